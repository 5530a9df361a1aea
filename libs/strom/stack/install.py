"""What ``ops/stack`` installs when it is missing: Debian packages (Java, ZooKeeper, Redis,
Maven) with apt-get, and Kafka's jars from Maven Central (``ops/kafka/pom.xml``) into the jar
cache, once per version of the pom (its hash is the cache's completion marker)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from strom.config import source_root
from strom.stack.console import PROG, Console, StackError, seconds


class Installer:
    """Installs into the system (apt, as root) and into ``kafka_libs``; logs under ``logs``."""

    def __init__(self, console: Console, logs: Path, kafka_libs: Path) -> None:
        self.console, self.logs, self.kafka_libs = console, logs, kafka_libs
        self._apt_updated = False

    def apt_install(self, packages: list[str]) -> None:
        """``apt-get install`` ``packages`` (``apt-get update`` first, once).

        Raises :class:`StackError` when not root (naming the command to run) or apt-get fails.
        """
        packages = sorted(set(packages))
        if not packages:
            return
        if os.geteuid() != 0:
            self.console.warn(f"{PROG}: missing packages: {' '.join(packages)} — run as root or install them:")
            self.console.warn(f"  apt-get update && apt-get install -y --no-install-recommends {' '.join(packages)}")
            raise StackError("missing packages")
        started = time.monotonic()
        self.console.say(f"install: apt-get install {' '.join(packages)} ...")
        if not self._apt_updated:
            self._run(["apt-get", "update", "-q"], "install.log", "install: apt-get update failed")
            self._apt_updated = True
        self._run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], "install.log",
                  f"install: apt-get install {' '.join(packages)} failed",
                  env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        self.console.say(f"install: done in {seconds(started)} s")

    def ensure_kafka_libs(self) -> None:
        """Resolve Kafka and its runtime dependencies into the jar cache unless it is complete.

        Raises :class:`StackError` if the cache is incomplete and there is no pom (an installed
        package, not a checkout), or Maven fails.
        """
        root = source_root()
        marker = self.kafka_libs / ".strom-complete"
        if root is None:  # an installed package: trust a complete cache, there is no pom to compare
            if marker.is_file():
                return
            self.console.warn(f"kafka: FAILED: the Kafka jars are missing from {self.kafka_libs} and there is "
                              "no ops/kafka/pom.xml to fetch them with (an installed package, not a source "
                              "checkout): set STROM_KAFKA_LIBS to a complete jar cache")
            raise StackError("no Kafka jars")
        pom = root / "ops" / "kafka" / "pom.xml"
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
        if marker.is_file() and marker.read_text().strip() == digest:
            return
        if shutil.which("mvn") is None:
            self.apt_install(["maven"])
        started = time.monotonic()
        tmp = self.kafka_libs.with_name(f"{self.kafka_libs.name}.tmp.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        self.console.say(f"kafka: fetching jars from Maven Central ({pom}) ...")
        try:
            self._run(["mvn", "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
                       "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"], "maven.log",
                      "kafka: FAILED: Maven could not resolve the Kafka jars", cwd=pom.parent, append=False)
            if not any(tmp.glob("kafka_2.13-*.jar")):
                self.console.warn(f"kafka: FAILED: no kafka_2.13 jar in {tmp}")
                raise StackError("no Kafka jar")
        except StackError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(self.kafka_libs, ignore_errors=True)
        tmp.rename(self.kafka_libs)
        marker.write_text(digest + "\n")
        jars = sum(1 for p in self.kafka_libs.iterdir() if not p.name.startswith("."))
        self.console.say(f"kafka: {jars} jars in {self.kafka_libs}, {seconds(started)} s")

    def _run(self, argv: list[str], log_name: str, failure: str, cwd: Path | None = None,
             env: dict[str, str] | None = None, append: bool = True) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / log_name
        with open(log, "ab" if append else "wb") as out:
            code = subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=cwd, env=env)
        if code != 0:
            self.console.warn(failure)
            self.console.tail(log)
            raise StackError(failure)

