"""Data-parallel training with a warmup schedule on torch.distributed, restartable after a crash.

Launch it with torch's own launcher; two processes on this machine (CPU and gloo; NCCL and one
GPU per process when CUDA is present):

    python -m torch.distributed.run --standalone --nproc-per-node 2 examples/ddp_warmup.py \\
        --steps 40 --warmup 10 --peak-lr 0.1 --out runs/ddp

What happens, on every process ("rank"):

* the same MLP (``warmup_lib.models.MLP``) is wrapped in ``DistributedDataParallel``, which
  averages the gradients of all ranks during ``backward()`` (an all-reduce), so every rank applies
  the same update and the replicas stay identical;
* a ``DistributedSampler`` gives each rank a different share of every epoch, so one optimizer step
  sees ``world size x --batch-size`` examples: the global batch, which is what the learning rate
  acts on;
* the learning rate is ``--peak-lr`` times a warmup_lib schedule (linear warmup over ``--warmup``
  steps, then a cosine decay), driven by ``warmup_lib.ScheduleLR`` and stepped once per optimizer
  step on every rank;
* every rank appends one row per optimizer step to ``OUT/rank{r}.csv``: ``step, lr, train_loss``
  (the loss of the global batch), ``rank_loss`` (this rank's share of it) and ``param_checksum``
  (the float64 sum of all parameters after the step) — the ranks must agree on everything but
  ``rank_loss``;
* rank 0 saves model, optimizer, scheduler and data position to ``OUT/checkpoint.pt`` every
  ``--checkpoint-every`` steps (written to a temporary file, then renamed, so a crash never leaves
  half a checkpoint); at start every rank resumes from it if it is there.

``--fail-at-step K`` makes rank 1 raise at step K the first time (it leaves the marker file
``OUT/failed_at_step_K``). Launched with ``--max-restarts 1``, torch's launcher restarts all the
processes, which resume from the last checkpoint, and the rows from K on are exactly those of an
uninterrupted run.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch and warmup_lib are imported once the options are checked (see main)
    from torch.utils.data import DataLoader, DistributedSampler

    import warmup_lib as wl

CSV_COLUMNS = ("step", "lr", "train_loss", "rank_loss", "param_checksum")
CHECKPOINT_FORMAT = "ddp_warmup/1"
# Settings a checkpoint must share with the launch that resumes from it.
RESUME_MUST_MATCH = (
    "world_size", "steps", "warmup", "peak_lr", "batch_size", "momentum", "seed", "n_train", "hidden",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options, each checked with a message that names it and the valid range."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Launch with: python -m torch.distributed.run --standalone --nproc-per-node 2 "
        "examples/ddp_warmup.py --out OUT",
    )
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps in total (default 40)")
    parser.add_argument("--warmup", type=int, default=10, help="linear warmup steps (default 10)")
    parser.add_argument("--peak-lr", type=float, default=0.1, help="peak learning rate (default 0.1)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSVs and the checkpoint")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per rank per step (default 32)")
    parser.add_argument("--checkpoint-every", type=int, default=5, help="steps between checkpoints (default 5)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights and the data order (default 0)")
    parser.add_argument("--n-train", type=int, default=4096, help="training examples (default 4096)")
    parser.add_argument("--fail-at-step", type=int, default=None, metavar="K",
                        help="rank 1 raises at step K the first time (to try --max-restarts)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA with NCCL if available, else CPU with gloo (default auto)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be an integer >= 1, got {args.steps}")
    if not 0 <= args.warmup <= args.steps:
        parser.error(f"--warmup must be between 0 and --steps ({args.steps}), got {args.warmup}")
    if not (math.isfinite(args.peak_lr) and args.peak_lr > 0):
        parser.error(f"--peak-lr must be a finite number > 0, got {args.peak_lr}")
    if args.batch_size < 1:
        parser.error(f"--batch-size must be an integer >= 1, got {args.batch_size}")
    if args.checkpoint_every < 1:
        parser.error(f"--checkpoint-every must be an integer >= 1, got {args.checkpoint_every}")
    if not 0 <= args.momentum < 1:
        parser.error(f"--momentum must be >= 0 and < 1, got {args.momentum}")
    if args.seed < 0:
        parser.error(f"--seed must be an integer >= 0, got {args.seed}")
    if args.n_train < 1:
        parser.error(f"--n-train must be an integer >= 1, got {args.n_train}")
    if args.fail_at_step is not None and not 0 <= args.fail_at_step < args.steps:
        parser.error(f"--fail-at-step must be between 0 and --steps - 1 ({args.steps - 1}), got {args.fail_at_step}")
    return args


def learning_rate_schedule(steps: int, warmup: int) -> wl.Schedule:
    """Linear warmup over ``warmup`` steps, then a cosine decay over the remaining steps."""
    import warmup_lib as wl

    if warmup == steps:
        return wl.LinearWarmup(warmup)
    return wl.warmup_then(wl.LinearWarmup(warmup), wl.CosineDecay(steps - warmup))


def batches(loader: DataLoader, sampler: DistributedSampler, epoch: int, skip: int):
    """Yield ``(epoch, index in epoch, batch)`` forever, from batch ``skip`` of ``epoch`` on.

    ``set_epoch`` reshuffles deterministically (seed + epoch), so a resumed run that sets the
    same epoch and skips the batches already used sees exactly the batches it would have seen.
    """
    while True:
        sampler.set_epoch(epoch)
        for index, batch in enumerate(loader):
            if index >= skip:
                yield epoch, index, batch
        epoch, skip = epoch + 1, 0


def read_rows(path: Path, before_step: int) -> list[dict[str, str]]:
    """The rows of an earlier attempt's CSV for steps before ``before_step`` (none if no file)."""
    if not path.exists():
        return []
    with path.open(newline="") as file:
        return [row for row in csv.DictReader(file) if int(row["step"]) < before_step]


def save_checkpoint(path: Path, state: dict) -> None:
    """Write to a temporary file and rename it: a crash leaves the old checkpoint or the new one."""
    import torch

    partial = path.with_name(path.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def load_checkpoint(path: Path, config: dict) -> dict | None:
    """The checkpoint at ``path`` if there is one; refuse one written with other settings."""
    import torch

    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a checkpoint of this script (format {state.get('format')!r})")
    different = {k: (state["config"][k], config[k]) for k in RESUME_MUST_MATCH if state["config"][k] != config[k]}
    if different:
        changes = ", ".join(f"{k}: checkpoint {old!r}, now {new!r}" for k, (old, new) in different.items())
        raise ValueError(f"{path} was written with other settings ({changes}); use a new --out or the same settings")
    return state


def main(argv: list[str] | None = None) -> int:
    """Check the options and the launcher's environment, then train (torch loads only then)."""
    args = parse_args(argv)
    if "RANK" not in os.environ:
        print(
            "examples/ddp_warmup.py runs under torch's launcher, which starts the processes and tells "
            "each its rank:\n  python -m torch.distributed.run --standalone --nproc-per-node 2 "
            "examples/ddp_warmup.py --out OUT",
            file=sys.stderr,
        )
        return 2
    # Gloo connects every pair of ranks when the process group is created. After a restart on a
    # busy machine that eager set-up can fail ("Gloo connectFullMesh failed ... Connection
    # refused": one process is not listening yet); connecting each pair when it is first used
    # does not. It must be set before the process group exists; a value given by the user wins.
    os.environ.setdefault("TORCH_GLOO_LAZY_INIT", "1")
    return train(args)


def train(args: argparse.Namespace) -> int:
    """Run (or resume) the data-parallel training described by the options, on this rank."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    import warmup_lib as wl
    from warmup_lib.data import make_teacher_classification
    from warmup_lib.models import MLP

    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
        torch.set_num_threads(1)  # the processes share the CPU cores; one thread each is fastest
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", 0))
    if args.fail_at_step is not None and world_size < 2:
        raise SystemExit("--fail-at-step makes rank 1 fail, so it needs at least 2 processes (--nproc-per-node 2)")

    hidden = (64, 64)
    config = {
        "world_size": world_size, "steps": args.steps, "warmup": args.warmup, "peak_lr": args.peak_lr,
        "batch_size": args.batch_size, "momentum": args.momentum, "seed": args.seed, "n_train": args.n_train,
        "hidden": list(hidden),
    }
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    checkpoint = load_checkpoint(checkpoint_path, config)

    data = make_teacher_classification(n_train=args.n_train, n_val=1024, n_test=1, seed=args.seed)
    dataset = TensorDataset(data.X_train, data.y_train)
    if args.batch_size * world_size > len(dataset):
        raise SystemExit(
            f"--batch-size {args.batch_size} x {world_size} processes is more than the {len(dataset)} "
            "training examples; lower --batch-size or raise --n-train"
        )
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed, drop_last=True)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True)

    model = MLP(data.n_features, data.n_classes, hidden=hidden, seed=args.seed).to(device)
    ddp_model = DistributedDataParallel(model, device_ids=[local_rank] if use_cuda else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.peak_lr, momentum=args.momentum)
    scheduler = wl.ScheduleLR(optimizer, learning_rate_schedule(args.steps, args.warmup))
    criterion = torch.nn.CrossEntropyLoss()

    start_step, epoch, skip = 0, 0, 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        start_step, epoch, skip = checkpoint["next_step"], checkpoint["epoch"], checkpoint["batches_into_epoch"]
        if rank == 0:
            print(f"restart {restart}: resumed from the checkpoint at step {start_step} of {args.steps}", flush=True)
    # Every rank has read the checkpoint before rank 0 can write the next one.
    dist.barrier()

    # Keep the rows of an earlier attempt up to the checkpoint, so each step appears once.
    csv_path = out / f"rank{rank}.csv"
    kept = read_rows(csv_path, start_step)
    with csv_path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(kept)
        file.flush()

        marker = out / f"failed_at_step_{args.fail_at_step}"
        stream = batches(loader, sampler, epoch, skip)
        for step in range(start_step, args.steps):
            if step == args.fail_at_step and rank == 1 and not marker.exists():
                marker.touch()
                raise RuntimeError(f"simulated crash of rank 1 at step {step} (--fail-at-step)")
            epoch, index, (x, y) = next(stream)
            x, y = x.to(device), y.to(device)
            lr = optimizer.param_groups[0]["lr"]  # the LR this step uses
            loss = criterion(ddp_model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # DDP all-reduces (averages) the gradients of every rank here
            optimizer.step()
            scheduler.step()
            global_loss = loss.detach().clone()
            dist.all_reduce(global_loss)  # sum of the ranks' mean losses
            with torch.no_grad():
                checksum = sum(p.detach().double().sum() for p in model.parameters()).item()
            writer.writerow({
                "step": step, "lr": repr(lr), "train_loss": repr(global_loss.item() / world_size),
                "rank_loss": repr(loss.item()), "param_checksum": repr(checksum),
            })
            file.flush()  # a crash must not lose the rows of finished steps
            done = step + 1
            if rank == 0 and (done % args.checkpoint_every == 0 or done == args.steps):
                save_checkpoint(checkpoint_path, {
                    "format": CHECKPOINT_FORMAT,
                    "config": config,
                    "next_step": done,
                    "epoch": epoch,
                    "batches_into_epoch": index + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                })

    if rank == 0:
        model.eval()
        with torch.no_grad():
            logits = model(data.X_val.to(device))
            val_loss = criterion(logits, data.y_val.to(device)).item()
            val_accuracy = (logits.argmax(1).cpu() == data.y_val).float().mean().item()
        print(
            f"done: {args.steps} steps on {world_size} processes ({'nccl' if use_cuda else 'gloo'}), global batch "
            f"{world_size * args.batch_size}, val loss {val_loss:.3f}, val accuracy {val_accuracy:.3f}",
            flush=True,
        )
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
