"""Remake the README's pictures of the Step workspace from a trained run.

    python docs/make_step_screenshots.py [--checkpoint /tmp/cifar_run/ckpt] [--data ../shared]
                                         [--size 1280x800] [--out docs]

Opens the window off-screen at ``--size`` with the run's checkpoint (copied first: the ConvNetJS
network trained 5 epochs on CIFAR-10) and steps CIFAR-10 test image ``--image`` (a cat) from the data
folder ``--data`` (it holds ``cifar10/``), saving:

- ``step-conv-forward.png``: conv1 forward at a cell of the top row: the 5×5 window reaching into the
  zero padding (hatched), and the dot-product ledger;
- ``step-maxpool-backward.png``: maxpool1 backward: one gradient routed to the forward winner;
- ``step-gather-scatter.png``: conv2 backward: one input cell's gradient as the stamps w·dY that reach
  it, equal to the gather with the 180°-rotated filters and to the engine's dX;
- ``step-gradcheck.png``: a conv1 weight gradient (x·dY over every position) checked by centred
  differences.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trained_window import screenshot_arguments, trained_window  # noqa: E402  (docs/ is on sys.path)


def main(argv: list[str]) -> int:
    def image_argument(parser):
        parser.add_argument("--image", type=int, default=0, help="which test image of the class cat")

    args, width, height, out = screenshot_arguments(__doc__.splitlines()[0], argv, image_argument)

    with trained_window(args.checkpoint, args.data, width, height) as (window, settle, tmp):
        window.workspaces.switch("step")
        page = window.stepper
        settle(lambda: page.run is not None and not page.jobs.busy())
        if not page.cifar10_available():
            raise SystemExit(f"CIFAR-10 is not in {args.data}/cifar10")
        page.set_image("cifar10", args.image, 3)  # CIFAR-10 class 3: cat
        settle(lambda: page.run is not None and not page.jobs.busy())

        def shot(name: str) -> None:
            settle(lambda: not page.jobs.busy())
            path = out / name
            window.grab().save(str(path))
            print(f"wrote {path}: {page.image_text}")

        page.go_to_layer("conv1")
        page.set_position((3, 0, 1))  # the top row: two rows of the 5×5 window are zero padding
        page.ledger.sort_by(0)
        shot("step-conv-forward.png")

        page.go_to_layer("maxpool1", "backward")
        page.set_position((5, 6, 9))
        shot("step-maxpool-backward.png")

        page.go_to_layer("conv2", "backward")
        page.set_position((4, 6, 7))
        shot("step-gather-scatter.png")

        page.go_to_layer("conv1", "backward", "weights")
        page.set_position((3, 1, 2, 2))
        page.check_gradient()
        settle(lambda: page.last_check is not None)
        shot("step-gradcheck.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
