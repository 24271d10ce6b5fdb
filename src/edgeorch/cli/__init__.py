"""The ``edgeorch`` command: server, up, and the client verbs."""
