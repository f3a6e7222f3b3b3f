"""Benchmarks of zgossip: figures a user can reproduce, each next to its physical limit.

``python -m benchmarks.run [--quick]`` runs them all and prints one table; see RESULTS.md.
Every figure is measured against a baseline taken in the same run on the same machine
(raw pyzmq + msgpack between two processes, the overlay's own diameter, the configured
liveness timers), so noise from a shared machine hits both sides of each ratio.
"""
