"""Where the network looks: the selected image's saliency and Grad-CAM computed on a thread and drawn
with their legends (part of :class:`AnalyzeWorkspaceView`)."""

from __future__ import annotations

import numpy as np

from convviz.analysis import grad_cam, saliency, saliency_map

SALIENCY_PERCENTILE = 99  # a saliency legend tops out here: its largest values are a few pixels


class ExplainingPart:
    """The Analyze page's "Where it looks": saliency and Grad-CAM of the selected (or the user's) image."""

    def _same_scale_toggled(self, on: bool) -> None:
        self._peaks, self._peak_images = [0.0, 0.0], set()
        self._explain()

    def _explain(self) -> None:
        """Saliency and Grad-CAM of the selected test image (or the user's own), on a thread; drawn when
        done (``explained``)."""
        if self.result is None or self._net64 is None or (self.selected_image is None and self.own_image is None):
            return
        layer = self.layer_choice.currentData()
        result, data, own = self.result, self.dataset, self.own_image if self.selected_image is None else None
        wanted = self.class_choice.currentData()
        if own is None:
            i = self.selected_image
            subject = ("test", i)
            cls = int(result.predicted[i] if wanted == "predicted" else result.labels[i])
        else:
            subject, cls = ("own", own), None  # the class it is predicted as: known after the forward pass
        self._explain_ticket += 1
        ticket, holder = self._explain_ticket, self._net64
        self.explaining = True

        def work(_cancelled):
            try:
                from convviz.engine.loss import softmax

                with holder.lock:
                    net = holder.get()
                    x = (data.batch("test", np.array([subject[1]]))[0] if own is None else own.x).astype(np.float64)
                    probs = softmax(net.forward(x, train=False))[0]
                    c = int(np.argmax(probs)) if cls is None else cls
                    g = saliency_map(saliency(net, x, c))
                    cam = grad_cam(net, x, c, layer) if layer else None
                self._jobs.done.emit("explain", ticket, (subject, c, layer, g, cam, probs), None)
            except Exception as exc:  # noqa: BLE001 (said in the panel)
                self._jobs.done.emit("explain", ticket, None, exc)

        self._explanations.submit(work)  # the newest image asked for replaces one waiting

    def _explanation_done(self, ticket: int, result, error) -> None:
        if ticket != self._explain_ticket:
            return
        self.explaining = False
        if error is not None:
            self.looks.clear(f"Cannot explain this image: {error}")
            self.explained.emit()
            return
        subject, cls, layer, g, cam, probs = result
        names = self.result.class_names
        i = subject[1] if subject[0] == "test" else None
        heat = cam.upsampled if cam is not None else np.zeros_like(g)
        peaks = (float(g.max()), float(heat.max()))
        # A few pixels hold saliency's largest values: its own legend tops out at a high percentile.
        tops = (float(np.percentile(g, SALIENCY_PERCENTILE)) or peaks[0], peaks[1])
        if self.same_scale.isChecked():
            self._peaks = [max(a, b) for a, b in zip(self._peaks, tops)]
            self._peak_images.add(i if i is not None else subject[1].name)
            scales = tuple(self._peaks)
            count = len(self._peak_images)
            note = f"the same scale over the {count} image{'s' if count > 1 else ''} shown since ticked"
        else:
            scales, note = tops, "its own scale"
        self.saliency_values, self.cam_values = g, heat
        order = np.argsort(-probs, kind="stable")[:3]
        top = ", ".join(f"{names[k]} {probs[k]:.1%}" for k in order)
        if i is not None:
            r = self.result
            pixels = self.dataset.raw_image("test", i)
            heading = f"test image {i}: true {names[r.labels[i]]}, predicted {names[r.predicted[i]]}"
        else:
            own = subject[1]
            pixels = own.pixels
            heading = f"your image {own.name}: predicted {names[cls]} ({own.fit})"
        self.own_probabilities = probs if i is None else None
        if peaks[0] == 0:
            saliency_caption = "0 everywhere: no path from the input to this score passes every ReLU"
        else:
            saliency_caption = (f"max over channels of |dS/dx|, legend 0–{scales[0]:.3g} ({note}; pixels up to "
                                f"the peak {peaks[0]:.3g} draw at the top)")
        if cam is None:
            cam_title, cam_caption = "Grad-CAM: the network has no conv layer", ""
        else:
            cam_title = f"Grad-CAM at {layer} for {names[cls]}"
            cam_caption = (f"ReLU(Σ α_k A_k) at {cam.map.shape[1]}×{cam.map.shape[0]}, upsampled bilinearly; "
                           f"legend 0–{scales[1]:.3g} ({note})")
        original = window = None
        if i is None:
            own = subject[1]
            oh, ow = own.original.shape[:2]
            if (oh, ow) != pixels.shape[:2]:  # the picture as opened, its fitted window outlined
                original, window = own.original, own.window
                top = f"{top}; outlined: the {window[3]}×{window[2]} window fitted to the input"
        self.looks.show(
            pixels, g, heat, scales,
            (heading, f"Saliency for {names[cls]}", cam_title),
            (f"top 3: {top}", saliency_caption, cam_caption), original, window)
        self.explained.emit()
