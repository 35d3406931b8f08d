"""The connector runtime of one process (Connect's herder and worker in one).

It owns the connectors: their configs, target states (STARTED, PAUSED,
STOPPED) and statuses, persisted in the log (:mod:`headwater.connect.store`)
so they come back when the process restarts; and their tasks, each on a
thread (:mod:`headwater.connect.worker`). The REST API and the SQL statements
call the same methods, so they see the same connectors. Methods raise
:class:`ConnectRequestError` with the HTTP status and message Connect answers.

Its :class:`~headwater.connect.policy.ConnectPolicy` says which files and
databases configs may name (checked on validate and on every start, so a
stored config the admin no longer allows fails instead of running). What it
answers shows secrets as ``[hidden]`` (:mod:`headwater.connect.secrets`);
the connectors get the real values.
"""

from __future__ import annotations

import logging
import socket
import threading
import traceback
from collections.abc import Mapping
from typing import Any

from headwater.connect import plugins
from headwater.connect.api import ConnectError, Connector
from headwater.connect.converters import converter_from_config
from headwater.connect.policy import ConnectPolicy
from headwater.connect.secrets import REDACTOR, config_secrets, masked_config, unmasked
from headwater.connect.store import ConnectStore, StorageTopics, offset_key
from headwater.connect.transform_chain import TransformChain
from headwater.connect.worker import (
    FAILED,
    PAUSED,
    RESTARTING,
    RUNNING,
    UNASSIGNED,
    SinkWorkerTask,
    SourceWorkerTask,
    WorkerTask,
    sink_group,
    sink_topics,
)
from headwater.log import Log, TopicPartition

logger = logging.getLogger(__name__)

STOPPED = "STOPPED"
#: Target states as Connect stores them, by the state the user asked for.
_TARGETS = {RUNNING: "STARTED", PAUSED: "PAUSED", STOPPED: "STOPPED"}
_VALIDATE_HINT = "You can also find the above list of errors at the endpoint `/connector-plugins/{}/config/validate`"


class ConnectRequestError(ConnectError):
    """A request the runtime refuses; ``status`` is the HTTP status Connect answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(name: str) -> ConnectRequestError:
    return ConnectRequestError(404, f"Connector {name} not found")


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class ConnectorInstance:
    """One connector's live parts: the Connector object, its task configs and worker tasks."""

    def __init__(self, name: str, config: dict[str, str]) -> None:
        self.name = name
        self.config = config
        self.connector: Connector | None = None
        self.type = "unknown"
        self.state = UNASSIGNED
        self.trace: str | None = None
        self.task_configs: list[dict[str, str]] = []
        self.tasks: list[WorkerTask] = []


class ConnectRuntime:
    def __init__(self, log: Log, *, worker_id: str | None = None, topics: StorageTopics | None = None,
                 policy: ConnectPolicy | None = None) -> None:
        self.log = log
        self.policy = policy or ConnectPolicy.unconfined()
        self.worker_id = worker_id or f"{socket.gethostname()}:8083"
        self.store = ConnectStore(log, topics)
        self._lock = threading.RLock()
        self.connectors: dict[str, ConnectorInstance] = {}
        self._closed = False
        for name, config in list(self.store.configs.items()):
            target = {"STARTED": RUNNING, "PAUSED": PAUSED, "STOPPED": STOPPED}.get(
                self.store.targets.get(name, "STARTED"), RUNNING)
            instance = ConnectorInstance(name, config)
            self.connectors[name] = instance
            REDACTOR.remember(config_secrets(config, password_keys(config)))
            self._start(instance, target)
        if self.connectors:
            logger.info("connect: restored %d connector(s)", len(self.connectors))

    # -- configs --------------------------------------------------------------------
    def validate(self, config: Mapping[str, str]) -> tuple[type[Connector] | None, dict[str, list[str]]]:
        """The connector class and the errors per key of a config (empty when valid)."""
        errors: dict[str, list[str]] = {}
        class_name = config.get("connector.class")
        if not class_name:
            return None, {"connector.class": ["Missing required configuration \"connector.class\" which has no "
                                              "default value."]}
        try:
            cls = plugins.find(class_name).load()
        except ConnectError as exc:
            return None, {"connector.class": [str(exc)]}
        tasks_max = config.get("tasks.max", "1")
        if not tasks_max.strip().lstrip("-").isdecimal() or int(tasks_max) < 1:
            errors["tasks.max"] = [f"Invalid value {tasks_max} for configuration tasks.max: "
                                   "Value must be at least 1"]
        if cls.type == "sink":
            has_topics, has_regex = bool(config.get("topics", "").strip()), bool(config.get("topics.regex"))
            if has_topics == has_regex:
                errors["topics"] = ["Must configure one of topics or topics.regex" if not has_topics else
                                    "topics and topics.regex are mutually exclusive options, but both are set."]
        for key, check in (("key.converter", lambda: converter_from_config(config, True)),
                           ("value.converter", lambda: converter_from_config(config, False)),
                           ("transforms", lambda: TransformChain(config)),
                           ("errors.tolerance", lambda: _check_tolerance(config))):
            try:
                check()
            except (ConnectError, ValueError, KeyError) as exc:
                errors.setdefault(key, []).append(str(exc))
        for key, messages in cls.validate(config).items():
            errors.setdefault(key, []).extend(messages)
        for key, messages in self.policy.check(config).items():
            errors.setdefault(key, []).extend(messages)
        return cls, errors

    def _checked(self, name: str, config: Mapping[str, Any]) -> dict[str, str]:
        config = {str(k): _config_text(v) for k, v in config.items() if v is not None}
        config["name"] = name
        if not name or not name.strip():
            raise ConnectRequestError(400, "Connector name is null or empty.")
        if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
            raise ConnectRequestError(400, f"Connector name {name!r} must not contain ISO control characters.")
        REDACTOR.remember(config_secrets(config, password_keys(config)))
        cls, errors = self.validate(config)
        if errors:
            messages = [m for ms in errors.values() for m in ms]
            plugin = (config.get("connector.class") or "").rsplit(".", 1)[-1]
            raise ConnectRequestError(400, f"Connector configuration is invalid and contains the following "
                                           f"{len(messages)} error(s):\n" + "\n".join(messages) + "\n"
                                           + _VALIDATE_HINT.format(plugin))
        return config

    def create(self, name: str, config: Mapping[str, Any], initial_state: str = RUNNING) -> dict[str, Any]:
        """Create a connector (409 if it exists, 400 on a bad config); return its info."""
        if initial_state not in _TARGETS:
            raise ConnectRequestError(400, f"Invalid initial state {initial_state}: expected RUNNING, PAUSED "
                                           "or STOPPED")
        with self._lock:
            if name in self.connectors:
                raise ConnectRequestError(409, f"Connector {name} already exists")
            checked = self._checked(name, config)
            self.store.put_target(name, _TARGETS[initial_state])
            self.store.put_config(name, checked)
            instance = ConnectorInstance(name, checked)
            self.connectors[name] = instance
            self._start(instance, initial_state)
            return self.info(name)

    def put_config(self, name: str, config: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """PUT /connectors/{name}/config: create or replace; returns (created, info)."""
        if "name" in config and config["name"] != name:
            raise ConnectRequestError(400, f"Connector name configuration ({config['name']}) doesn't match "
                                           f"connector name in the URL ({name})")
        with self._lock:
            if name not in self.connectors:
                return True, self.create(name, config)
            instance = self.connectors[name]
            texts = {str(k): _config_text(v) for k, v in config.items() if v is not None}
            checked = self._checked(name, unmasked(texts, instance.config, password_keys(instance.config)))
            self.store.put_config(name, checked)
            target = self._target(name)
            self._stop(instance)
            instance.config = checked
            self._start(instance, target)
            return False, self.info(name)

    def patch_config(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH /connectors/{name}/config: keys with null are removed, the others set."""
        with self._lock:
            merged: dict[str, Any] = dict(self._get(name).config)
            for key, value in patch.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            return self.put_config(name, merged)[1]

    def delete(self, name: str) -> None:
        with self._lock:
            instance = self._get(name)
            self._stop(instance)
            self.store.delete_config(name)
            self.store.put_status(f"status-connector-{name}", {"state": "DESTROYED", "worker_id": self.worker_id})
            del self.connectors[name]

    # -- lifecycle ------------------------------------------------------------------
    def pause(self, name: str) -> None:
        with self._lock:
            instance = self._get(name)
            self.store.put_target(name, "PAUSED")
            if instance.state == STOPPED:
                self._start(instance, PAUSED)
                return
            for task in instance.tasks:
                task.pause()
            if instance.state == RUNNING:
                self._set(instance, PAUSED)

    def resume(self, name: str) -> None:
        with self._lock:
            instance = self._get(name)
            self.store.put_target(name, "STARTED")
            if instance.state == STOPPED:
                self._start(instance, RUNNING)
                return
            for task in instance.tasks:
                task.resume()
            if instance.state == PAUSED:
                self._set(instance, RUNNING)

    def stop_connector(self, name: str) -> None:
        """PUT /connectors/{name}/stop: tasks shut down, the config stays (state STOPPED)."""
        with self._lock:
            instance = self._get(name)
            self.store.put_target(name, "STOPPED")
            self._stop(instance)
            instance.task_configs = []
            self._set(instance, STOPPED)

    def restart(self, name: str, include_tasks: bool = False, only_failed: bool = False) -> dict[str, Any] | None:
        """Restart the connector (and with ``include_tasks`` its tasks; ``only_failed`` only failed ones).

        Returns the status with the instances to restart shown RESTARTING
        (Connect's 202 body), or None for the plain connector restart (204).
        """
        with self._lock:
            instance = self._get(name)
            restart_connector = not only_failed or instance.state == FAILED
            tasks = [t for t in instance.tasks if not only_failed or t.state == FAILED] if include_tasks else []
            if not include_tasks and not only_failed:
                self._restart_connector(instance)
                return None
            status = self.status(name)
            if restart_connector:
                status["connector"]["state"] = RESTARTING
            for entry in status["tasks"]:
                if any(t.id == entry["id"] for t in tasks):
                    entry["state"] = RESTARTING
                    entry.pop("trace", None)
            if restart_connector:
                self._restart_connector(instance)
            for task in tasks:
                self._restart_task(instance, task.id)
            return status

    def restart_task(self, name: str, task_id: int) -> None:
        with self._lock:
            instance = self._get(name)
            if not any(t.id == task_id for t in instance.tasks):
                raise ConnectRequestError(404, f"Task {name}-{task_id} not found")
            self._restart_task(instance, task_id)

    def _restart_connector(self, instance: ConnectorInstance) -> None:
        target = self._target(instance.name)
        if instance.connector is not None:
            try:
                instance.connector.stop()
            except Exception:
                logger.exception("connector %s: stop failed", instance.name)
        if target == STOPPED:
            self._set(instance, STOPPED)
            return
        refused = self.policy.check(instance.config)
        if refused:
            message = "; ".join(m for ms in refused.values() for m in ms)
            logger.warning("connector %s is not allowed to run: %s", instance.name, message,
                           extra={"connector": instance.name})
            self._set(instance, FAILED, f"The server's connector policy refuses this config: {message}")
            return
        try:
            instance.connector = self._new_connector(instance)
            self._set(instance, target)
        except Exception as exc:
            self._set(instance, FAILED, _trace(exc))

    def _restart_task(self, instance: ConnectorInstance, task_id: int) -> None:
        old = next(t for t in instance.tasks if t.id == task_id)
        old.stop()
        config = instance.task_configs[task_id] if task_id < len(instance.task_configs) else {}
        new = self._worker(instance, task_id, config, paused=self._target(instance.name) == PAUSED)
        instance.tasks[instance.tasks.index(old)] = new
        new.start()

    # -- reading --------------------------------------------------------------------
    def names(self) -> list[str]:
        with self._lock:
            return sorted(self.connectors)

    def info(self, name: str) -> dict[str, Any]:
        with self._lock:
            instance = self._get(name)
            return {
                "name": name,
                "config": masked_config(instance.config, password_keys(instance.config)),
                "tasks": [{"connector": name, "task": i} for i in range(len(instance.task_configs))],
                "type": instance.type,
            }

    def status(self, name: str) -> dict[str, Any]:
        with self._lock:
            instance = self._get(name)
            connector: dict[str, Any] = {"state": instance.state, "worker_id": self.worker_id}
            if instance.trace:
                connector["trace"] = REDACTOR.redact(instance.trace)
            return {"name": name, "connector": connector, "tasks": [self._task_status(t) for t in instance.tasks],
                    "type": instance.type}

    def task_status(self, name: str, task_id: int) -> dict[str, Any]:
        with self._lock:
            task = next((t for t in self._get(name).tasks if t.id == task_id), None)
            if task is None:
                raise ConnectRequestError(404, f"No status found for task {name}-{task_id}")
            return self._task_status(task)

    def tasks(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            instance = self._get(name)
            return [{"id": {"connector": name, "task": i}, "config": masked_config(c, password_keys(instance.config))}
                    for i, c in enumerate(instance.task_configs)]

    def connector_class(self, name: str) -> str:
        with self._lock:
            class_name = self._get(name).config.get("connector.class", "")
        try:
            return plugins.find(class_name).class_name
        except ConnectError:
            return class_name

    def topics(self, name: str) -> list[str]:
        """Topics the connector reads (sink) or has written to (source, by its config where it says)."""
        with self._lock:
            config = self._get(name).config
        if self.connectors[name].type == "sink":
            return sink_topics(self.log, config)
        return [t for t in (config.get("kafka.topic"), config.get("topic")) if t]

    # -- offsets (KIP-875) --------------------------------------------------------------
    def offsets(self, name: str) -> dict[str, Any]:
        with self._lock:
            instance = self._get(name)
        if instance.type == "sink":
            partitions = [TopicPartition(t, p) for t in sink_topics(self.log, instance.config)
                          for p in range(self._partitions(t))]
            committed = self.log.committed(sink_group(name), partitions)
            return {"offsets": [{"partition": {"kafka_topic": tp.topic, "kafka_partition": tp.partition},
                                 "offset": {"kafka_offset": off}}
                                for tp, off in committed.items() if off is not None]}
        return {"offsets": [{"partition": p, "offset": o} for p, o in self.store.source_offsets(name)]}

    def alter_offsets(self, name: str, entries: list[Mapping[str, Any]] | None) -> dict[str, str]:
        """PATCH (``entries``) or DELETE (None) the offsets of a STOPPED connector."""
        with self._lock:
            instance = self._get(name)
            if instance.state != STOPPED:
                raise ConnectRequestError(400, "Connectors must be in the STOPPED state before their offsets can be "
                                          f"modified. This can be done for the specified connector by issuing a "
                                          f"'PUT' request to the '/connectors/{name}/stop' endpoint")
            if entries is not None and not entries:
                raise ConnectRequestError(400, "The offsets to be modified must not be null or empty")
            if instance.type == "sink":
                self._alter_sink_offsets(name, entries)
            else:
                self._alter_source_offsets(name, entries)
        verb = "reset" if entries is None else "altered"
        return {"message": f"The offsets for this connector have been {verb} successfully"}

    def _alter_sink_offsets(self, name: str, entries: list[Mapping[str, Any]] | None) -> None:
        group = sink_group(name)
        if entries is None:
            self.log.delete_group(group)
            return
        commits: dict[TopicPartition, int] = {}
        for entry in entries:
            partition, offset = entry.get("partition") or {}, entry.get("offset")
            try:
                tp = TopicPartition(str(partition["kafka_topic"]), int(partition["kafka_partition"]))
                commits[tp] = (self.log.beginning_offset(*tp) if offset is None else int(offset["kafka_offset"]))
            except (KeyError, TypeError, ValueError):
                raise ConnectRequestError(400, "Sink connector offsets must have a partition with kafka_topic "
                                               "and kafka_partition and an offset with kafka_offset, "
                                               f"got {entry}") from None
        self.log.commit(group, commits)

    def _alter_source_offsets(self, name: str, entries: list[Mapping[str, Any]] | None) -> None:
        if entries is None:
            current = self.store.source_offsets(name)
            entries = [{"partition": p, "offset": None} for p, _ in current]
        changes: dict[bytes, tuple[dict[str, Any], dict[str, Any] | None]] = {}
        for entry in entries:
            partition = entry.get("partition")
            if not isinstance(partition, Mapping):
                raise ConnectRequestError(400, f"Source connector offsets must have a partition object, got {entry}")
            offset = entry.get("offset")
            changes[offset_key(name, partition)] = (dict(partition), dict(offset) if offset is not None else None)
        self.store.write_offsets(name, changes)

    # -- internals ------------------------------------------------------------------
    def _get(self, name: str) -> ConnectorInstance:
        instance = self.connectors.get(name)
        if instance is None:
            raise not_found(name)
        return instance

    def _target(self, name: str) -> str:
        return {"STARTED": RUNNING, "PAUSED": PAUSED, "STOPPED": STOPPED}[self.store.targets.get(name, "STARTED")]

    def _partitions(self, topic: str) -> int:
        try:
            return self.log.describe_topic(topic).partitions
        except ConnectError:
            return 0
        except Exception:
            return 0

    def _new_connector(self, instance: ConnectorInstance) -> Connector:
        cls = plugins.find(instance.config["connector.class"]).load()
        instance.type = cls.type
        connector = cls()
        connector.start(instance.config)
        return connector

    def _start(self, instance: ConnectorInstance, target: str) -> None:
        """Start the connector and, unless STOPPED, its tasks (paused when the target is PAUSED)."""
        try:
            instance.type = plugins.find(instance.config.get("connector.class", "")).load().type
        except ConnectError:
            pass
        if target == STOPPED:
            self._set(instance, STOPPED)
            return
        try:
            instance.connector = self._new_connector(instance)
            max_tasks = int(instance.config.get("tasks.max", "1"))
            instance.task_configs = [dict(c) for c in instance.connector.task_configs(max_tasks)][:max_tasks]
        except Exception as exc:
            logger.warning("connector %s failed to start: %s", instance.name, exc, extra={"connector": instance.name})
            self._set(instance, FAILED, _trace(exc))
            return
        instance.tasks = [self._worker(instance, i, c, paused=target == PAUSED)
                          for i, c in enumerate(instance.task_configs)]
        self._set(instance, target)
        for task in instance.tasks:
            task.start()

    def _worker(self, instance: ConnectorInstance, task_id: int, task_config: Mapping[str, str],
                paused: bool) -> WorkerTask:
        assert instance.connector is not None  # noqa: S101 - set by _start before tasks exist
        task = instance.connector.task_class()()
        worker_cls = SinkWorkerTask if instance.type == "sink" else SourceWorkerTask
        return worker_cls(log=self.log, store=self.store, connector=instance.name, task_id=task_id, task=task,
                          task_config={**instance.config, **task_config}, connector_config=instance.config,
                          paused=paused, on_status=self._task_changed)

    def _stop(self, instance: ConnectorInstance) -> None:
        for task in instance.tasks:
            task.stop()
        instance.tasks = []
        if instance.connector is not None:
            try:
                instance.connector.stop()
            except Exception:
                logger.exception("connector %s: stop failed", instance.name)
            instance.connector = None

    def _set(self, instance: ConnectorInstance, state: str, trace: str | None = None) -> None:
        instance.state, instance.trace = state, trace
        if not self._closed:
            self.store.put_status(f"status-connector-{instance.name}", _status_record(state, trace, self.worker_id))

    def _task_changed(self, task: WorkerTask) -> None:
        if not self._closed:
            self.store.put_status(f"status-task-{task.connector}-{task.id}",
                                  _status_record(task.state, task.trace, self.worker_id))

    def _task_status(self, task: WorkerTask) -> dict[str, Any]:
        out: dict[str, Any] = {"id": task.id, "state": task.state, "worker_id": self.worker_id}
        if task.trace:
            out["trace"] = REDACTOR.redact(task.trace)
        return out

    def wait_for(self, name: str, state: str = RUNNING, timeout_s: float = 10.0) -> dict[str, Any]:
        """Block until the connector and all its tasks are in ``state`` (for tests and scripts)."""
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status(name)
            states = {status["connector"]["state"], *(t["state"] for t in status["tasks"])}
            if states == {state}:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"connector {name} not {state} after {timeout_s} s: {status}")
            time.sleep(0.02)

    def close(self) -> None:
        """Stop every task (their state stays in the log; they restart with the next runtime)."""
        with self._lock:
            self._closed = True
            for instance in self.connectors.values():
                self._stop(instance)


def _status_record(state: str, trace: str | None, worker_id: str) -> dict[str, Any]:
    record: dict[str, Any] = {"state": state, "worker_id": worker_id}
    if trace:
        record["trace"] = trace
    return record


def _check_tolerance(config: Mapping[str, str]) -> None:
    tolerance = config.get("errors.tolerance", "none")
    if tolerance not in ("none", "all"):
        raise ConnectError(f"Invalid value {tolerance} for configuration errors.tolerance: "
                           "String must be one of: none, all")
    for key in ("errors.retry.timeout", "errors.retry.delay.max.ms"):
        if key in config:
            int(config[key])


def _config_text(value: Any) -> str:
    """Config values are strings in Connect; JSON numbers and booleans sent by clients become text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["ConnectRequestError", "ConnectRuntime", "STOPPED"]


def password_keys(config: Mapping[str, str]) -> list[str]:
    """The keys the config's connector declares as PASSWORD (masked as Connect masks them)."""
    try:
        cls = plugins.find(config.get("connector.class", "")).load()
    except ConnectError:
        return []
    return [k.name for k in cls.config_def() if k.type == "PASSWORD"]
