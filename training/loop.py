"""What every training loop of the toolkit shares: checkpoints that let a cancelled or killed run resume,
progress a caller can parse, and data parallelism over processes started by `torchrun`.

Progress: besides the human-readable log lines, every report is one line `@xaiws {json}` on stdout
(`{"event": "progress", "role", "step", "steps", "losses", "seconds", "eta"}`), which the app's job reads.

Checkpoints: `<out>/checkpoints/<role>.ckpt` holds the step, the state of every module and optimiser,
the random generator and the loss history, written to a temporary file and renamed, so a kill while
writing leaves the previous checkpoint. A run started again with the same configuration continues from
it; a different configuration starts over (and says so). Resuming reshuffles from the saved generator
state, so a resumed run is a valid run of the recipe, not a bit-for-bit replay of an uninterrupted one.

Data parallelism: under `torchrun` (RANK / WORLD_SIZE in the environment) each process takes its own
share of every batch, gradients are averaged over the processes after every backward pass (what
DistributedDataParallel does; its module wrapper cannot take the R1 penalty's double backward), and
only rank 0 writes files. Backend: NCCL on GPUs, gloo on CPUs.
"""
import json
import os
import time

import torch
import torch.distributed as dist


def world() -> tuple:
    """(rank, world size): (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> tuple:
    """Join the process group when torchrun started us; returns (rank, world size)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return world()


def is_main() -> bool:
    return world()[0] == 0


def broadcast(*modules) -> None:
    """Every process starts from rank 0's weights."""
    if world()[1] == 1:
        return
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, 0)


def average_gradients(*modules) -> None:
    """After backward: each gradient becomes the mean over the processes (one flat all-reduce)."""
    size = world()[1]
    if size == 1:
        return
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def shard(index: torch.Tensor) -> torch.Tensor:
    """This process's share of a batch of indices (every process drew the same batch)."""
    rank, size = world()
    return index[rank::size]


def emit(event: dict) -> None:
    if is_main():
        print("@xaiws " + json.dumps(event, separators=(",", ":")), flush=True)


CHECKPOINT_EVERY = 200  # steps


class Run:
    """One training loop's clock, progress and checkpoints."""

    def __init__(self, role: str, steps: int, out_dir: str = None, config: dict = None, every: int = None,
                 report_every: int = 100):
        self.role, self.steps, self.report_every = role, steps, report_every
        self.every = every or CHECKPOINT_EVERY
        self.path = os.path.join(out_dir, "checkpoints", f"{role}.ckpt") if out_dir else None
        self.config = json.dumps(config or {}, sort_keys=True, default=str)
        self.started = self.wall = time.time()  # started: training time over resumes; wall: this process
        self.start_step = 0
        self.history = []
        self.on_report = None  # called with the step after each report (live previews)

    @property
    def seconds(self) -> float:
        return time.time() - self.started

    def log(self, message: str) -> None:
        if is_main():
            print(f"[{self.role} {self.seconds:6.0f} s] {message}", flush=True)

    def resume(self, generator: torch.Generator, **stateful) -> int:
        """Load the checkpoint into `stateful` (modules, optimisers, Ema) when it matches; the first step."""
        if not self.path or not os.path.exists(self.path):
            return 0
        saved = torch.load(self.path, map_location="cpu")
        if not self._continues(saved):
            self.log(f"{self.path} was written with another configuration: starting over")
            return 0
        for name, thing in stateful.items():
            target = thing.shadow if hasattr(thing, "shadow") else thing
            target.load_state_dict(saved["state"][name])
        generator.set_state(saved["generator"])
        self.history = saved["history"]
        self.start_step = saved["step"]
        self.started -= saved.get("seconds", 0.0)
        self.log(f"resumed at step {self.start_step} of {self.steps}")
        emit({"event": "resumed", "role": self.role, "step": self.start_step, "steps": self.steps})
        return self.start_step

    def _continues(self, saved: dict) -> bool:
        """The same configuration, or the same but for more steps than the checkpoint has done (training
        longer: no schedule of the toolkit depends on the step count, so the longer run goes on from it)."""
        if saved.get("config") == self.config:
            return True
        try:
            theirs, mine = json.loads(saved.get("config") or "{}"), json.loads(self.config)
        except ValueError:
            return False
        theirs.pop("steps", None)
        steps = mine.pop("steps", None)
        return theirs == mine and steps is not None and saved.get("step", 0) <= steps

    def save(self, step: int, generator: torch.Generator, **stateful) -> None:
        if not self.path or not is_main():
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        state = {name: (thing.shadow if hasattr(thing, "shadow") else thing).state_dict()
                 for name, thing in stateful.items()}
        temporary = self.path + ".partial"
        torch.save({"step": step, "config": self.config, "state": state, "generator": generator.get_state(),
                    "history": self.history, "seconds": self.seconds}, temporary)
        os.replace(temporary, self.path)

    def after_step(self, step: int, generator: torch.Generator, losses: dict, stateful: dict) -> None:
        """Call with the 1-based number of steps done: reports and checkpoints when due."""
        if step % self.report_every == 0 or step == self.steps:
            self.record(step, **losses)
            if self.on_report is not None and is_main():
                self.on_report(step)
        if self.path and (step % self.every == 0 or step == self.steps):
            self.save(step, generator, **stateful)

    def record(self, step: int, **losses) -> None:
        values = {name: float(value) for name, value in losses.items()}
        self.history.append(dict(step=step, **values))
        done = step - self.start_step
        eta = (self.steps - step) * (time.time() - self.wall) / done if done > 0 else None
        self.log(" ".join([f"step {step}/{self.steps}"] + [f"{k} {v:.4f}" for k, v in values.items()]))
        emit({"event": "progress", "role": self.role, "step": step, "steps": self.steps,
              "losses": {k: round(v, 5) for k, v in values.items()}, "seconds": round(self.seconds, 1),
              "eta": round(eta, 1) if eta is not None else None})
