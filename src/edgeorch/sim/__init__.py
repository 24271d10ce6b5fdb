"""The fleet simulator: many simulated agents in one process speaking the real agent protocol.

``fleet`` builds realistic nodes (real cities, brochure node types), ``driver`` models start time
and resource use behind the driver protocol, ``agent`` is one simulated agent, ``runner`` runs a
whole fleet with faults, ``scenario`` reads scenario files, ``allinone`` is ``edgeorch up``.
"""
