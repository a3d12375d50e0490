"""The Ray executor: the same stages, parts, markers and stats as the local executor, on a Ray cluster.

Each pending part is one Ray task (CPU stages) or one call on a pool of actors (stages that declare
GPUs, so a model is loaded once per actor and the GPU stays held between parts). Both run
:func:`mella.pipeline.local.run_part`, the function the local executor runs, so the run folder is
byte-for-byte the same layout and either executor resumes the other's run. ``before_run`` and
``prepare`` run in the driver, as locally.

Assumption: every node sees the output folder at the same path (one machine, NFS, a mounted bucket);
see docs/scaling.md for what object storage would change. ``import ray`` happens on first use.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from typing import Any

from mella.errors import MellaError
from mella.pipeline.entry import StageReport
from mella.pipeline.local import finish_stage, plan_parts, run_part
from mella.pipeline.shards import Shard
from mella.pipeline.stage import Stage
from mella.runstore import StageDir, now_iso

log = logging.getLogger("mella")

#: Keys a stage's ``resources`` may hold: the per-part options of a Ray task or actor.
RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "accelerator_type")
#: Object store of a Ray instance this executor starts itself: rows travel through files, only
#: stage objects and markers through Ray, so a small store is enough and leaves RAM to the stages.
LOCAL_OBJECT_STORE = 256 * 2**20


def stage_resources(stage: Stage) -> dict[str, Any]:
    """What one part of ``stage`` needs from a node: its ``resources`` attribute, else one CPU."""
    res = dict(getattr(stage, "resources", None) or {})
    unknown = sorted(set(res) - set(RESOURCE_KEYS))
    if unknown:
        raise MellaError(f"stage {stage.name}: unknown resources {', '.join(unknown)}; "
                         f"valid keys: {', '.join(RESOURCE_KEYS)}")
    res.setdefault("num_cpus", 1)
    return res


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MellaError("the ray executor needs Ray: pip install 'mella[ray]'") from None
    return ray


# -- worker side ----------------------------------------------------------------------------
_CACHE: dict[str, Stage] = {}


def _node_id() -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _task_run_part(run_id: str, stage: Stage, shard: Shard, index: int, out_dir: str):
    """One part in a Ray task; returns (marker, node id)."""
    # Ray reuses worker processes across tasks, so keep one set-up stage per worker (a model loads
    # once, as in the local pool). Keyed by run, not fingerprint: a worker outlives a run, and state
    # from prepare() (dedup tables) is not in the fingerprint.
    cached = _CACHE.get(run_id)
    if cached is None:
        _CACHE.clear()
        cached = _CACHE[run_id] = stage
    return run_part(cached, shard, index, out_dir), _node_id()


class _PartActor:
    """Holds one set-up stage (a model on a GPU) and writes the parts it is given."""

    def __init__(self, stage: Stage):
        self.stage = stage
        self.stage.ensure_setup()  # load now, so every actor of the pool loads at once

    def run(self, shard: Shard, index: int, out_dir: str):
        return run_part(self.stage, shard, index, out_dir), _node_id()


# -- driver side ----------------------------------------------------------------------------
class _Tasks:
    """Submits parts as Ray tasks, at most ``limit`` at once."""

    def __init__(self, ray, stage_ref, resources: dict[str, Any], limit: int, run_id: str, out_dir: str):
        # max_retries: a part whose worker or node dies is run again from scratch (its temporaries are
        # cleaned and nothing was committed), which keeps exactly-once per part.
        self._fn = ray.remote(_task_run_part).options(max_retries=3, **resources)
        self._args = (run_id, stage_ref)
        self.out_dir, self.capacity = out_dir, limit

    def submit(self, index: int, shard: Shard):
        return self._fn.remote(*self._args, shard, index, self.out_dir)

    def release(self, ref) -> None:
        """Nothing to give back: Ray frees the task's resources."""

    def close(self) -> None:
        """Nothing to stop."""


class _Actors:
    """Submits parts to a pool of ``size`` actors, one part per actor at a time."""

    def __init__(self, ray, stage_ref, resources: dict[str, Any], size: int, out_dir: str):
        cls = ray.remote(_PartActor).options(max_restarts=1, max_task_retries=1, **resources)
        self._ray, self.out_dir = ray, out_dir
        self.idle = [cls.remote(stage_ref) for _ in range(size)]
        self.busy: dict[Any, Any] = {}
        self.capacity = size

    def submit(self, index: int, shard: Shard):
        actor = self.idle.pop()
        ref = actor.run.remote(shard, index, self.out_dir)
        self.busy[ref] = actor
        return ref

    def release(self, ref) -> None:
        self.idle.append(self.busy.pop(ref))

    def close(self) -> None:
        # Free the GPUs for the next stage now rather than when the driver exits.
        for actor in self.idle + list(self.busy.values()):
            self._ray.kill(actor)


class RayExecutor:
    """Runs a stage over shards on a Ray cluster: ``address`` to join one, else a local instance."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, progress: bool = True,
                 actors: bool | None = None):
        self.workers = workers
        self.address = address
        self.progress = progress
        #: None: actors for stages that ask for GPUs, tasks otherwise; True/False forces one.
        self.actors = actors
        self._started = False

    def connect(self):
        """Ray, initialised: the running instance, the cluster at ``address`` or $RAY_ADDRESS, else a new local one."""
        ray = _import_ray()
        if ray.is_initialized():
            return ray
        # RAY_ADDRESS is set for drivers that `ray job submit` starts on a cluster.
        address = self.address or os.environ.get("RAY_ADDRESS")
        if address:
            log.info("connecting to the Ray cluster at %s", address)
            ray.init(address=address)
        else:
            # address="local": never join a cluster some other process on this machine started.
            ray.init(address="local", num_cpus=self.workers, include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE)
        self._started = True
        return ray

    def close(self) -> None:
        """Shut down the Ray instance this executor started (one it joined is left running)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def run(self, stage: Stage, shards: list[Shard], out_dir: str | os.PathLike) -> StageReport:
        stage_dir = StageDir(out_dir)
        stage_dir.create()
        t0, started = time.time(), now_iso()
        resources = stage_resources(stage)
        pending, _ = plan_parts(stage, shards, stage_dir)
        nodes: Counter = Counter()
        limit = 0
        if pending:
            ray = self.connect()
            limit = self._limit(ray, resources, len(pending))
            with _PartsBar(stage.name, len(pending), self.progress) as bar:
                nodes = self._run_parts(ray, stage, pending, str(stage_dir.path), resources, limit, bar)
        return finish_stage(stage, stage_dir, len(shards), len(pending), t0,
                            {"executor": self.name, "workers": limit, "started_at": started,
                             "ray": {"address": self.address, "resources": resources,
                                     "parts_per_node": dict(nodes)}})

    def _use_actors(self, resources: dict[str, Any]) -> bool:
        # GPU tasks release their worker after every call (Ray's default for GPU tasks), which would
        # reload the model per part; an actor keeps it.
        return self.actors if self.actors is not None else resources.get("num_gpus", 0) > 0

    def _limit(self, ray, resources: dict[str, Any], n_pending: int) -> int:
        """Parts in flight: ``workers``, else as many as the cluster's CPUs/GPUs hold at once."""
        if self.workers:
            return min(self.workers, n_pending)
        total = ray.cluster_resources()
        slots = [int(total.get(key, 0) // need) for key, need in
                 (("CPU", resources.get("num_cpus", 0)), ("GPU", resources.get("num_gpus", 0))) if need]
        return max(1, min([n_pending, *slots]))

    def _run_parts(self, ray, stage: Stage, pending, out_dir: str, resources, limit: int, bar) -> Counter:
        stage_ref = ray.put(stage)  # pickled once, not once per part (prepare() may leave tables on it)
        if self._use_actors(resources):
            pool: _Tasks | _Actors = _Actors(ray, stage_ref, resources, limit, out_dir)
        else:
            pool = _Tasks(ray, stage_ref, resources, limit, uuid.uuid4().hex, out_dir)
        try:
            return _dispatch(ray, stage, pool, pending, bar)
        finally:
            pool.close()


def _dispatch(ray, stage: Stage, pool, pending: list[tuple[int, Shard]], bar) -> Counter:
    """Keep ``pool.capacity`` parts in flight until all are committed; the first failure stops the run."""
    queue = list(reversed(pending))
    running: dict[Any, Shard] = {}
    nodes: Counter = Counter()
    while queue or running:
        while queue and len(running) < pool.capacity:
            index, shard = queue.pop()
            running[pool.submit(index, shard)] = shard
        [ref], _ = ray.wait(list(running), num_returns=1)
        shard = running.pop(ref)
        try:
            marker, node = ray.get(ref)
        except Exception as exc:
            for other in running:
                ray.cancel(other)  # raises KeyboardInterrupt in the part, which removes its temporaries
            raise _part_error(ray, stage, shard, exc) from exc
        pool.release(ref)
        nodes[node[:12]] += 1
        bar.part_done(marker)
    return nodes


def _part_error(ray, stage: Stage, shard: Shard, exc: BaseException) -> BaseException:
    """The error to raise for a failed part: a stage's own error as it is, Ray's own as one line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, MellaError):
        wrapped = MellaError(f"stage {stage.name} on {shard.uri}: {cause}")
        wrapped.exit_code = cause.exit_code  # a bad input stays exit 2 when a worker found it
        return wrapped
    if isinstance(exc, ray.exceptions.RayTaskError):
        return exc  # also an instance of the stage's exception class, with the remote traceback
    if isinstance(exc, ray.exceptions.RayError):
        return MellaError(f"stage {stage.name} on {shard.uri}: Ray failed ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); rerun the same command to resume")
    return exc


class _PartsBar:
    """A tqdm bar of parts done and rows read (counted as parts commit)."""

    def __init__(self, name: str, parts: int, enabled: bool):
        self.name, self.parts, self.enabled = name, parts, enabled
        self._bar = None
        self._done = 0

    def __enter__(self) -> _PartsBar:
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=self.name, unit=" rows", unit_scale=True, dynamic_ncols=True, leave=True)
            self._bar.set_postfix_str(f"parts 0/{self.parts}")
        return self

    def part_done(self, marker: dict[str, Any]) -> None:
        self._done += 1
        if self._bar is not None:
            counters = marker.get("counters", {})
            self._bar.update(counters.get("rows_in") or marker.get("rows", 0))
            self._bar.set_postfix_str(f"parts {self._done}/{self.parts}")

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
