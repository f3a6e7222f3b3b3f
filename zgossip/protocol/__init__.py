"""The protocol, pure: plain objects that take what arrived and the time, and return what
to do. Nothing here opens a socket or a file, starts a thread or reads a clock
(``tests/unit/test_boundary.py`` fails when a module does): the executors beside this
package (:mod:`zgossip.node`, :mod:`zgossip.simulate`) do that, and the same cores run a
real node, thousands of simulated ones, and the tests.

- :mod:`~zgossip.protocol.peer` and :mod:`~zgossip.protocol.seed`: the cores,
  ``PeerState`` and ``SeedState``; :mod:`~zgossip.protocol.core`, what both share;
- their parts: registry, registration, overlay, gossip (the Message List, gaps), tree,
  liveness, agreement, outbox (a turn's forwards in frames), watch (monitors' queues);
- what they speak and say: wire (the msgpack envelope), effects, records (typed events);
- what they run on: config, clock (the time as an input), deadlines, repeats.
"""
