"""What the window says to a newcomer: the first-start hint above the stack, Help → What am I looking
at?, and About."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from convviz import __version__

HELP_HTML = """
<h3>What am I looking at?</h3>
<p>A convolutional network as a stack of layers. An image enters as the <b>input volume</b>
W×H×D (32×32×3 for a CIFAR-10 colour image) and every layer turns one volume into the next.</p>
<ul>
<li><b>Palette</b> (left): every kind of layer. Drag one into the stack, or double-click it to
insert it below the selected card.</li>
<li><b>Stack</b> (centre): one card per layer: its hyperparameters (<i>conv 5×5, 16, S1 P2</i>), the
volume it outputs (<i>32×32×16</i>) and its parameter count. Drag cards to reorder them; Delete removes
one, Ctrl+D duplicates it, right-click for more. Residual and Branch blocks open to show their inner
stacks.</li>
<li><b>Inspector</b> (right): the selected layer's values and the arithmetic behind its shape, with
your numbers: W′ = (W − F + 2P)/S + 1, e.g. (32 − 5 + 2·2)/1 + 1 = 32, and its parameters,
16×5×5×3 + 16 = 1,216. Change a value and every card follows.</li>
<li><b>Red cards</b> cannot be built, e.g. a stride that does not fit: (10 − 3 + 2·0)/2 + 1 = 4.5.
The inspector says why and offers one-click fixes; the grey cards after it wait for the fix.</li>
<li><b>Diagram</b> (top): the classic picture of the network as a row of volumes. Click a box to
select its layer.</li>
<li><b>Summary</b> (bottom): the whole table, the totals, and the memory a training step needs with
the Training panel's batch size and optimizer, and whether it fits in this computer's memory
(ConvViz trains on the CPU).</li>
<li><b>Case Studies</b> menu: LeNet-5, AlexNet, ZFNet, VGG-16, GoogLeNet and ResNet, as the CS231n
notes describe them, plus small networks that train on CIFAR-10.</li>
</ul>
<p>Every change can be undone with Ctrl+Z.</p>
<p>The tabs at the top switch <b>workspaces</b>: <b>Build</b> (Ctrl+1) is this one; <b>Train</b> (Ctrl+2)
trains the network and shows its loss, accuracy, activations and filters as it learns. Each workspace
remembers how you arrange its panels; View → Reset Workspace puts them back.</p>
"""

FIRST_START_HINT = (
    "<b>Welcome!</b> {what}: an image flows down the stack and every card shows the volume W×H×D it "
    "becomes. Drag layers in from the <b>palette</b>, select a card to see its <b>formula</b> in the "
    "inspector, and open <b>Case Studies</b> for AlexNet, VGG or ResNet. <a href='help'>What am I looking at?</a>"
)



ABOUT_HTML = (
    f"<b>ConvViz {__version__}</b><br>See and touch convolutional networks: build them, size them, "
    "train them and step through them. After the Stanford CS231n notes."
)


class FirstStartHint(QFrame):
    """A yellow note above the stack on the first start; its link asks for help, ✕ hides it."""

    help_requested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("hint")
        self.setStyleSheet("QFrame#hint { background: #fef7e0; border: 1px solid #f9ab00; border-radius: 4px; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 5, 4, 5)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.linkActivated.connect(lambda _href: self.help_requested.emit())
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide this hint (Help → What am I looking at? shows more)")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)

    def show_network_name(self, name: str) -> None:
        what = f"This is the {name} network" if name else "This is your network"
        self.label.setText(FIRST_START_HINT.format(what=what))
