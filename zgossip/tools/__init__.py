"""The tools around the library: the command line (``zgossip``), its clients of running
nodes (peer lists, members, monitors, send), the tmux launcher and the plots. Each is a
thin layer over :mod:`zgossip`; none of the protocol lives here."""
