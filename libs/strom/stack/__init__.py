"""The local infrastructure behind ``ops/stack``: Kafka (KRaft), ZooKeeper and Redis on 127.0.0.1.

``python -m strom.stack COMMAND`` (what ``ops/stack`` runs) installs what is
missing (:mod:`~strom.stack.install`), writes the servers' configs and checks
their health (:mod:`~strom.stack.components`), and supervises them as
background processes (:mod:`~strom.stack.commands`, on the same
:class:`~strom.cluster.supervisor.Supervisor` as ``strom cluster``). Ports,
heap, timeouts and the state dir are options of :class:`strom.config.StackOptions`.
"""
