"""Write the preset network files in resources/presets/ from the definitions below.

    python tools/make_presets.py

The JSON files are what the app loads; this script is how they were made, so that a change to a case
study is a reviewed change to code. ``tests/model/test_presets.py`` pins every parameter count.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convviz.model import (  # noqa: E402
    FC,
    LRN,
    AvgPool,
    BatchNorm,
    Branch,
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    MaxPool,
    NetworkSpec,
    ReLU,
    Residual,
    Softmax,
    Tanh,
    Volume,
    save_spec,
)
from convviz.paths import resource  # noqa: E402


def lenet5() -> NetworkSpec:
    return NetworkSpec(
        Volume(32, 32, 1),
        [
            Conv(filters=6, size=5, name="C1"), Tanh(), AvgPool(size=2, name="S2"),
            Conv(filters=16, size=5, name="C3"), Tanh(), AvgPool(size=2, name="S4"),
            Flatten(), FC(units=120, name="C5"), Tanh(), FC(units=84, name="F6"), Tanh(),
            FC(units=10, name="output"), Softmax(),
        ],
        name="LeNet-5",
        description=(
            "LeCun et al. 1998: the first successful CNN, for handwritten digits (32×32 grey). "
            "Modern reading: tanh activations, 2×2 average pooling, full C3 connections; 61,706 parameters."
        ),
    )


def alexnet() -> NetworkSpec:
    return NetworkSpec(
        Volume(227, 227, 3),
        [
            Conv(filters=96, size=11, stride=4), ReLU(), LRN(), MaxPool(size=3, stride=2),
            Conv(filters=256, size=5, pad=2), ReLU(), LRN(), MaxPool(size=3, stride=2),
            Conv(filters=384, size=3, pad=1), ReLU(),
            Conv(filters=384, size=3, pad=1), ReLU(),
            Conv(filters=256, size=3, pad=1), ReLU(), MaxPool(size=3, stride=2),
            Flatten(), Dropout(), FC(units=4096), ReLU(), Dropout(), FC(units=4096), ReLU(),
            FC(units=1000), Softmax(),
        ],
        name="AlexNet",
        description=(
            "Krizhevsky, Sutskever & Hinton 2012, ImageNet winner. Single-tower form of the two-GPU network "
            "(227×227 input, as the CS231n notes use), with local response normalization; 62,378,344 parameters."
        ),
    )


def alexnet_torchvision() -> NetworkSpec:
    return NetworkSpec(
        Volume(224, 224, 3),
        [
            Conv(filters=64, size=11, stride=4, pad=2, policy="crop"), ReLU(), MaxPool(size=3, stride=2),
            Conv(filters=192, size=5, pad=2), ReLU(), MaxPool(size=3, stride=2),
            Conv(filters=384, size=3, pad=1), ReLU(),
            Conv(filters=256, size=3, pad=1), ReLU(),
            Conv(filters=256, size=3, pad=1), ReLU(), MaxPool(size=3, stride=2),
            Flatten(), Dropout(), FC(units=4096), ReLU(), Dropout(), FC(units=4096), ReLU(),
            FC(units=1000), Softmax(),
        ],
        name="AlexNet (torchvision)",
        description=(
            "torchvision's alexnet, the layer shapes its published ImageNet weights have: the 'one weird trick' "
            "variant (Krizhevsky 2014) with 64-192-384-256-256 filters and no LRN; 224×224 input (conv1 rounds "
            "down, PyTorch's floor, shown as crop to fit); 61,100,840 parameters. Its adaptive average pool to "
            "6×6 leaves a 224×224 image's 6×6×256 volume as it is, so it is left out."
        ),
    )


def zfnet() -> NetworkSpec:
    return NetworkSpec(
        Volume(224, 224, 3),
        [
            Conv(filters=96, size=7, stride=2, policy="pad"), ReLU(), MaxPool(size=3, stride=2, policy="pad"), LRN(),
            Conv(filters=256, size=5, stride=2), ReLU(), MaxPool(size=3, stride=2, policy="pad"), LRN(),
            Conv(filters=384, size=3, pad=1), ReLU(),
            Conv(filters=384, size=3, pad=1), ReLU(),
            Conv(filters=256, size=3, pad=1), ReLU(), MaxPool(size=3, stride=2),
            Flatten(), Dropout(), FC(units=4096), ReLU(), Dropout(), FC(units=4096), ReLU(),
            FC(units=1000), Softmax(),
        ],
        name="ZFNet",
        description=(
            "Zeiler & Fergus 2013, ImageNet winner: AlexNet with a 7×7 stride-2 first layer and a stride-2 second "
            "layer, read off the paper's figure (224 → 110 → 55 → 26 → 13 → 13 → 6). The paper's sizes need "
            "zero-padding to fit where the stride does not divide."
        ),
    )


def vgg16() -> NetworkSpec:
    layers = []
    for filters, repeats in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(repeats):
            layers += [Conv(filters=filters, size=3, pad=1), ReLU()]
        layers.append(MaxPool(size=2, stride=2))
    layers += [
        Flatten(), FC(units=4096), ReLU(), Dropout(), FC(units=4096), ReLU(), Dropout(), FC(units=1000), Softmax(),
    ]
    return NetworkSpec(
        Volume(224, 224, 3),
        layers,
        name="VGG-16",
        description=(
            "Simonyan & Zisserman 2014 (configuration D): only 3×3 convolutions with P=1 and 2×2 pools. "
            "138,357,544 parameters, most of them in the first FC layer."
        ),
    )


def conv_bn_relu(filters: int, size: int, stride: int = 1, pad: int = 0, policy: str = "error") -> list:
    """torchvision's BasicConv2d: convolution without bias, batch norm (ε = 0.001), ReLU."""
    return [Conv(filters=filters, size=size, stride=stride, pad=pad, bias=False, policy=policy), BatchNorm(eps=0.001), ReLU()]


def inception(name: str, c1: int, c3r: int, c3: int, c5r: int, c5: int, pool: int) -> Branch:
    """An Inception module as torchvision builds it (its "5×5" branch uses a 3×3 convolution)."""
    return Branch(
        name=name,
        branches=[
            conv_bn_relu(c1, 1),
            conv_bn_relu(c3r, 1) + conv_bn_relu(c3, 3, pad=1),
            conv_bn_relu(c5r, 1) + conv_bn_relu(c5, 3, pad=1),
            [MaxPool(size=3, stride=1, pad=1)] + conv_bn_relu(pool, 1),
        ],
    )


def googlenet() -> NetworkSpec:
    ceil_pool = dict(size=3, stride=2, policy="pad")  # PyTorch's ceil_mode=True
    layers = (
        conv_bn_relu(64, 7, stride=2, pad=3, policy="crop")
        + [MaxPool(**ceil_pool)]
        + conv_bn_relu(64, 1)
        + conv_bn_relu(192, 3, pad=1)
        + [MaxPool(**ceil_pool)]
        + [inception("inception3a", 64, 96, 128, 16, 32, 32), inception("inception3b", 128, 128, 192, 32, 96, 64)]
        + [MaxPool(**ceil_pool)]
        + [
            inception("inception4a", 192, 96, 208, 16, 48, 64),
            inception("inception4b", 160, 112, 224, 24, 64, 64),
            inception("inception4c", 128, 128, 256, 24, 64, 64),
            inception("inception4d", 112, 144, 288, 32, 64, 64),
            inception("inception4e", 256, 160, 320, 32, 128, 128),
        ]
        + [MaxPool(size=2, stride=2)]
        + [inception("inception5a", 256, 160, 320, 32, 128, 128), inception("inception5b", 384, 192, 384, 48, 128, 128)]
        + [GlobalAvgPool(), Flatten(), Dropout(p=0.2), FC(units=1000), Softmax()]
    )
    return NetworkSpec(
        Volume(224, 224, 3),
        layers,
        name="GoogLeNet",
        description=(
            "Szegedy et al. 2014, ImageNet winner, in torchvision's layout without the auxiliary heads: batch-norm "
            "convolutions, nine Inception modules (branches concatenated in depth), global average pooling instead "
            "of big FC layers; 6,624,904 parameters. Pools round up (PyTorch's ceil_mode), shown as zero-pad to fit."
        ),
    )


def basic_block(filters: int, stride: int, project: bool, policy: str = "error") -> Residual:
    """ResNet's basic block: two 3×3 convolutions with batch norm, and a 1×1 projection when shapes change."""
    body = (
        [Conv(filters=filters, size=3, stride=stride, pad=1, bias=False, policy=policy), BatchNorm(), ReLU()]
        + [Conv(filters=filters, size=3, pad=1, bias=False), BatchNorm()]
    )
    shortcut = [Conv(filters=filters, size=1, stride=stride, bias=False, policy=policy), BatchNorm()] if project else []
    return Residual(body=body, shortcut=shortcut)


def resnet18() -> NetworkSpec:
    layers = [
        Conv(filters=64, size=7, stride=2, pad=3, bias=False, policy="crop"), BatchNorm(), ReLU(),
        MaxPool(size=3, stride=2, pad=1, policy="crop"),
    ]
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            downsample = stage > 0 and block == 0
            layers += [
                basic_block(filters, 2 if downsample else 1, downsample, policy="crop" if downsample else "error"),
                ReLU(),
            ]
    layers += [GlobalAvgPool(), Flatten(), FC(units=1000), Softmax()]
    return NetworkSpec(
        Volume(224, 224, 3),
        layers,
        name="ResNet-18",
        description=(
            "He et al. 2015, in torchvision's layout: residual blocks y = F(x) + x with batch norm, 1×1 projection "
            "shortcuts where the volume shrinks; 11,689,512 parameters. Stride-2 layers round down (PyTorch's "
            "floor), shown as crop to fit."
        ),
    )


def convnetjs() -> NetworkSpec:
    layers = []
    for filters in (16, 20, 20):
        layers += [Conv(filters=filters, size=5, pad=2), ReLU(), MaxPool(size=2, stride=2)]
    layers += [Flatten(), FC(units=10), Softmax()]
    return NetworkSpec(
        Volume(32, 32, 3),
        layers,
        name="ConvNetJS CIFAR-10",
        description=(
            "The network of Andrej Karpathy's ConvNetJS CIFAR-10 demo: three times conv 5×5 (16, 20, 20 filters, "
            "P=2) → ReLU → 2×2 max pool, then FC 10. Small and quick to train on a CPU."
        ),
    )


def tinyvgg() -> NetworkSpec:
    block = lambda: [Conv(filters=10, size=3), ReLU(), Conv(filters=10, size=3), ReLU(), MaxPool(size=2, stride=2)]  # noqa: E731
    return NetworkSpec(
        Volume(32, 32, 3),
        block() + block() + [Flatten(), FC(units=10), Softmax()],
        name="TinyVGG",
        description=(
            "The network CNN Explainer visualizes (Wang et al. 2020), adapted from 64×64 to 32×32 CIFAR-10 images: "
            "two blocks of conv 3×3 (10 filters, no padding) twice and a 2×2 max pool, then FC 10."
        ),
    )


def smallvgg() -> NetworkSpec:
    layers = []
    for filters in (32, 64, 128):
        layers += [
            Conv(filters=filters, size=3, pad=1), BatchNorm(), ReLU(),
            Conv(filters=filters, size=3, pad=1), BatchNorm(), ReLU(),
            MaxPool(size=2, stride=2),
        ]
    layers += [Flatten(), Dropout(p=0.3), FC(units=128), ReLU(), Dropout(p=0.3), FC(units=10), Softmax()]
    return NetworkSpec(
        Volume(32, 32, 3),
        layers,
        name="Small VGG",
        description=(
            "A VGG-style network for CIFAR-10: three stages of two 3×3 convolutions with batch norm (32, 64, 128 "
            "filters) and a 2×2 pool, then FC 128 and FC 10."
        ),
    )


def resnet20() -> NetworkSpec:
    layers = [Conv(filters=16, size=3, pad=1, bias=False), BatchNorm(), ReLU()]
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            downsample = stage > 0 and block == 0
            layers += [basic_block(filters, 2 if downsample else 1, downsample, policy="crop" if downsample else "error"), ReLU()]
    layers += [GlobalAvgPool(), Flatten(), FC(units=10), Softmax()]
    return NetworkSpec(
        Volume(32, 32, 3),
        layers,
        name="ResNet-20",
        description=(
            "He et al. 2015, section 4.2: the CIFAR-10 ResNet with 3 stages of 3 basic blocks (16, 32, 64 filters). "
            "The two shrinking blocks use 1×1 projection shortcuts (option B) instead of the paper's zero-padded "
            "identity (option A), which adds 2,752 parameters to the paper's 269,722."
        ),
    )


PRESETS = {
    "lenet5": lenet5,
    "alexnet": alexnet,
    "alexnet_torchvision": alexnet_torchvision,
    "zfnet": zfnet,
    "vgg16": vgg16,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "convnetjs": convnetjs,
    "tinyvgg": tinyvgg,
    "smallvgg": smallvgg,
    "resnet20": resnet20,
}


def main() -> None:
    out = resource("presets")
    out.mkdir(parents=True, exist_ok=True)
    for name, build in PRESETS.items():
        save_spec(build(), out / f"{name}.json")
        print(f"wrote {out / f'{name}.json'}")


if __name__ == "__main__":
    main()
