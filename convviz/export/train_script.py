"""``train.py``: CIFAR-10 training of an exported network in PyTorch with the run's settings.

    text = train_source(spec, config, origin)    # config: the checkpoint's TrainConfig (or the defaults)

The script is the same for every network; what differs is written into its ``CONFIG`` (optimizer,
learning rate and schedule, weight decay, batch, epochs, augmentation, seed, validation split,
gradient clipping) and its usage comment. It follows ConvViz's trainer: SGD/momentum/Nesterov/Adam
with PyTorch's conventions (which the engine shares), L2 weight decay on conv/FC weights only, the
schedule per step over ⌈N/B⌉·E steps, random crops (4 pixels of zero padding) and flips of the
normalized images, mean and std measured on the training split after the validation images are
held out. Under ``torchrun`` it runs DistributedDataParallel (NCCL on GPUs, gloo on CPUs) with the
global batch split over the processes.
"""

from __future__ import annotations

from convviz.model import analyze
from convviz.model.fine_tune import frozen_layer_names
from convviz.model.network import NetworkSpec
from convviz.training.config import TrainConfig

#: The settings written into CONFIG, in this order (the rest of a TrainConfig only shapes ConvViz's views).
KEYS = ("optimizer", "lr", "momentum", "weight_decay", "schedule", "step_epochs", "gamma", "min_lr", "batch_size",
        "epochs", "augment", "seed", "validation", "clip_norm")


def train_source(spec: NetworkSpec, config: TrainConfig, origin: str = "") -> str:
    """The text of ``train.py`` for ``spec`` trained with ``config``."""
    settings = config.to_dict()
    lines = ",\n".join(f"    {key!r}: {settings[key]!r}" for key in KEYS)
    from convviz.export.pytorch import docstring_text

    name, origin = docstring_text(spec.name or "the network"), docstring_text(origin or "a network file")
    return (TEMPLATE.replace("@NAME@", name).replace("@ORIGIN@", origin)
            .replace("@CONFIG@", "{\n" + lines + ",\n}").replace("@CLASSES@", str(analyze(spec).output.depth))
            .replace("@FROZEN@", repr(frozen_layer_names(spec))))


TEMPLATE = '''"""Train @NAME@ with PyTorch, with the settings of its ConvViz run (written by ConvViz from @ORIGIN@).

Usage:

    python train.py --data cifar10 --out runs/a                  # on one GPU if there is one, else the CPU
    python train.py --data synthetic --max-steps 3 --out /tmp/a   # a quick check of the set-up
    torchrun --standalone --nproc_per_node=4 train.py --data cifar10 --out runs/a      # 4 GPUs (NCCL) or CPU processes (gloo)
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 --master_addr=HOST --master_port=29500 \\
        train.py --data cifar10 --out runs/a                     # several machines: run once on each, node_rank 0, 1 …

--data: cifar10 (ConvViz's cache when convviz is installed, else torchvision downloads it into ./data),
PATH (a cifar-10-python.tar.gz or its extracted folder), or synthetic (ConvViz's generated shapes when
convviz is installed and the network takes 32×32×3 images, else random images of the network's size).
--epochs, --batch, --lr and --no-augment override CONFIG; --max-steps stops early. --batch is the global batch:
each of W processes takes batch/W images per step, so a multi-process run takes the same steps.

Checkpoints, after every epoch and at the end (by the first process): OUT/weights.safetensors, in the
layout of weights.safetensors (ConvViz's names, float32), and OUT/state.json (step, epoch, loss,
settings). Back into ConvViz: convviz import-weights network.json OUT/weights.safetensors --out FILE.
"""

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from model import WEIGHTS, INPUT_SHAPE, Network, load_weights, state_to_save

#: The ConvViz run's settings (convviz.training.config.TrainConfig).
CONFIG = @CONFIG@
CLASSES = @CLASSES@  # the depth of the network's output volume
FROZEN = @FROZEN@  # layers whose train switch is off in ConvViz (fine-tuning): their parameters stay as loaded


# -- data ------------------------------------------------------------------------------------------------

def load_data(source, validation, seed, classes):
    """(train images, train labels, eval images, eval labels, mean, std): uint8 (N, C, H, W) tensors,
    int64 labels, per-channel mean and std of the training images in [0, 1]."""
    try:
        import convviz.data as convviz_data
    except ImportError:
        convviz_data = None
    if source == "synthetic" and (convviz_data is None or INPUT_SHAPE != (3, 32, 32) or classes != 10):
        return random_data(seed, classes)
    if convviz_data is not None:
        ds = convviz_data.load_dataset(source, validation=validation, seed=seed)
        train, held = ds.split("train"), ds.split("validation")
        held = held if len(held) else ds.split("test")
        t = torch.from_numpy
        return (t(train.images), t(train.labels), t(held.images), t(held.labels),
                torch.tensor(ds.normalization.mean), torch.tensor(ds.normalization.std))
    if source == "synthetic":
        return random_data(seed, classes)
    import torchvision  # without convviz: torchvision reads CIFAR-10 (its batches are Python pickles)

    root = "data" if source == "cifar10" else source
    train = torchvision.datasets.CIFAR10(root, train=True, download=source == "cifar10")
    test = torchvision.datasets.CIFAR10(root, train=False, download=source == "cifar10")
    images = torch.from_numpy(train.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(train.targets)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    count = round(validation * len(labels))
    keep = order[count:].sort().values
    images, labels = images[keep], labels[keep]
    test_images = torch.from_numpy(test.data).permute(0, 3, 1, 2).contiguous()
    x = images.double() / 255
    return images, labels, test_images, torch.tensor(test.targets), x.mean((0, 2, 3)), x.std((0, 2, 3))


def random_data(seed, classes, train=2000, held=200):
    """Random images of the network's input size with random labels: checks the set-up, learns nothing."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (train + held,) + tuple(INPUT_SHAPE), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, classes, (train + held,), generator=g)
    x = images[:train].double() / 255
    return images[:train], labels[:train], images[train:], labels[train:], x.mean((0, 2, 3)), x.std((0, 2, 3))


def normalize(images, mean, std):
    """uint8 (B, C, H, W) → float32 (pixels/255 − mean)/std, as ConvViz normalizes."""
    return ((images.float() / 255 - mean.float()[:, None, None]) / std.float()[:, None, None]).contiguous()


def augment(x, generator, padding=4):
    """ConvViz's augmentation: a random crop of the zero-padded image (0 … 2·padding pixels in each
    direction), then a left–right flip with probability 1/2."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    top = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = (top[:, None] + torch.arange(h))[:, None, :, None]
    cols = (left[:, None] + torch.arange(w))[:, None, None, :]
    x = padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


# -- optimizer and schedule ------------------------------------------------------------------------------

def make_optimizer(model, config):
    """ConvViz's optimizers (PyTorch's conventions); L2 weight decay on conv and FC weights only; the
    FROZEN layers' parameters are not trained (requires_grad False, left out of the optimizer)."""
    decay, rest = [], []
    for name, p in model.named_parameters():
        if name.rpartition(".")[0] in FROZEN:
            p.requires_grad_(False)
            continue
        (decay if name.endswith(".weight") and p.dim() >= 2 else rest).append(p)
    groups = [{"params": decay, "weight_decay": config["weight_decay"]}, {"params": rest, "weight_decay": 0.0}]
    if config["optimizer"] == "adam":
        return torch.optim.Adam(groups, lr=config["lr"])
    momentum = 0.0 if config["optimizer"] == "sgd" else config["momentum"]
    return torch.optim.SGD(groups, lr=config["lr"], momentum=momentum, nesterov=config["optimizer"] == "nesterov")


def lr_at(step, config, steps_per_epoch, total_steps):
    """The learning rate of step ``step`` (from 0): constant, step (× gamma every step_epochs) or cosine."""
    if config["schedule"] == "step":
        return config["lr"] * config["gamma"] ** (step // max(1, round(config["step_epochs"] * steps_per_epoch)))
    if config["schedule"] == "cosine":
        t = min(step, total_steps)
        return config["min_lr"] + (config["lr"] - config["min_lr"]) * (1 + math.cos(math.pi * t / total_steps)) / 2
    return config["lr"]


# -- distributed -------------------------------------------------------------------------------------------

def set_up_processes(device_choice):
    """(rank, world size, device): one process, or one of torchrun's (NCCL on GPUs, gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() if device_choice == "auto" else device_choice == "cuda"
    if world > 1:
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
        if not cuda:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    return int(os.environ.get("RANK", "0")), world, device


def save(out, model, record):
    """OUT/weights.safetensors and OUT/state.json, each written whole then moved into place."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    save_file(state_to_save(model), str(out / "weights.safetensors.tmp"), metadata={"format": "convviz-weights"})
    os.replace(out / "weights.safetensors.tmp", out / "weights.safetensors")
    (out / "state.json.tmp").write_text(json.dumps(record, indent=1) + "\\n")
    os.replace(out / "state.json.tmp", out / "state.json")


@torch.no_grad()
def accuracy(model, images, labels, mean, std, device, batch=250):
    model.eval()
    right = 0
    for start in range(0, len(labels), batch):
        x = normalize(images[start:start + batch], mean, std).to(device)
        right += (model(x).argmax(1).cpu() == labels[start:start + batch]).sum().item()
    model.train()
    return right / max(1, len(labels))


# -- training ----------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--data", default="cifar10", help="synthetic, cifar10 or a CIFAR-10 archive/folder PATH")
    parser.add_argument("--epochs", type=int, default=CONFIG["epochs"])
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--batch", type=int, default=CONFIG["batch_size"], help="global batch size")
    parser.add_argument("--lr", type=float, default=CONFIG["lr"])
    parser.add_argument("--out", type=Path, default=Path("run"), help="folder for the checkpoints")
    parser.add_argument("--weights", default=str(WEIGHTS), help="start from these weights ('' for PyTorch's initialisation)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--no-augment", action="store_true", help="no random crops and flips")
    parser.add_argument("--sync-bn", action="store_true", help="batch-norm statistics over all processes' batches")
    parser.add_argument("--no-eval", action="store_true", help="skip the accuracy on held-out images after each epoch")
    parser.add_argument("--log-every", type=int, default=50)
    args = parser.parse_args(argv)
    config = dict(CONFIG, epochs=args.epochs, batch_size=args.batch, lr=args.lr)
    if args.no_augment:
        config["augment"] = False

    rank, world, device = set_up_processes(args.device)
    torch.manual_seed(config["seed"])
    model = Network()
    if args.weights:
        load_weights(model, args.weights)
    train_x, train_y, held_x, held_y, mean, std = load_data(args.data, config["validation"], config["seed"], CLASSES)
    if tuple(train_x.shape[1:]) != tuple(INPUT_SHAPE):
        raise SystemExit(f"train.py: the network takes {INPUT_SHAPE} (C, H, W) images; {args.data} has "
                         f"{tuple(train_x.shape[1:])}")
    model = model.to(device)
    if world > 1:
        if args.sync_bn:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    model.train()
    optimizer = make_optimizer(model, config)
    count, batch = len(train_y), config["batch_size"]
    steps_per_epoch = math.ceil(count / batch)
    total_steps = steps_per_epoch * config["epochs"]
    # --max-steps stops early; the schedule still spans the configured epochs, as ConvViz's does.
    order_gen = torch.Generator().manual_seed(config["seed"])  # the same order in every process
    augment_gen = torch.Generator().manual_seed(config["seed"] * 1000 + rank + 1)
    step, loss_value, start = 0, float("nan"), time.perf_counter()
    if rank == 0:
        print(f"training on {device} × {world}: {count:,} images, {config['epochs']} epochs of {steps_per_epoch} "
              f"steps (batch {batch}), {config['optimizer']} lr {config['lr']:g} {config['schedule']}", flush=True)
    done = False
    for epoch in range(config["epochs"]):
        order = torch.randperm(count, generator=order_gen)
        for index in range(steps_per_epoch):
            if args.max_steps is not None and step >= args.max_steps:
                done = True
                break
            chunk = order[index * batch:(index + 1) * batch]
            if len(chunk) < world:  # a last batch too small to share (every process skips it alike)
                continue
            mine = chunk[rank::world]
            x = normalize(train_x[mine], mean, std)
            if config["augment"]:
                x = augment(x, augment_gen)
            x, y = x.to(device, non_blocking=True), train_y[mine].to(device, non_blocking=True)
            lr = lr_at(step, config, steps_per_epoch, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            if config["clip_norm"] > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip_norm"])
            optimizer.step()
            step += 1
            loss_value = loss.item()
            if rank == 0 and (step % args.log_every == 0 or step == 1):
                rate = step * batch / (time.perf_counter() - start)
                print(f"epoch {epoch + 1} step {step}/{total_steps} loss {loss_value:.4f} lr {lr:.5f} "
                      f"{rate:,.0f} img/s", flush=True)
        record = {"step": step, "epoch": epoch + (0 if done else 1), "loss": loss_value, "config": config,
                  "data": args.data, "processes": world}
        if rank == 0:
            if not args.no_eval:
                record["held_out_accuracy"] = accuracy(getattr(model, "module", model), held_x, held_y, mean, std, device)
                print(f"epoch {epoch + 1}: held-out accuracy {record['held_out_accuracy']:.2%}", flush=True)
            save(args.out, model, record)
        if done:
            break
    if rank == 0:
        print(f"saved {args.out / 'weights.safetensors'} after {step} steps", flush=True)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
'''
