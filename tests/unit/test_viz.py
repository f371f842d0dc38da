"""Pictures: palette colours, overlays, galleries, plots and W&B masks."""

import numpy as np
import pytest

from digitseg.classes import BACKGROUND, CLASS_NAMES, PALETTE
from digitseg.reports.figures import per_class_figure
from digitseg.viz import (
    class_key,
    colorize,
    confusion_matrix_figure,
    enlarge,
    figure_to_array,
    gallery_figure,
    overlay,
    segmentation_masks,
    spread_limits,
)
from digitseg.viz.masks import log_segmentations


def test_colorize_uses_the_palette():
    labels = np.array([[0, 9], [BACKGROUND, 3]], np.uint8)
    rgb = colorize(labels)
    assert rgb.shape == (2, 2, 3)
    assert np.array_equal(rgb[0, 1], PALETTE[9]) and np.array_equal(rgb[1, 0], [0, 0, 0])


def test_overlay_keeps_background_pixels_and_tints_digits():
    image = np.full((2, 2), 200, np.uint8)
    labels = np.array([[1, BACKGROUND], [BACKGROUND, BACKGROUND]], np.uint8)
    out = overlay(image, labels, alpha=1.0)
    assert np.array_equal(out[0, 0], PALETTE[1])
    assert np.array_equal(out[1, 1], [200, 200, 200])


def test_enlarge_repeats_pixels_to_the_minimum_height():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3)
    big = enlarge(image, min_height=5)
    assert big.shape == (6, 9)  # factor 3: the smallest whole factor reaching 5 rows
    assert np.array_equal(big[::3, ::3], image) and np.array_equal(big[:3, :3], np.zeros((3, 3)))
    assert enlarge(np.zeros((300, 4, 3)), min_height=256).shape == (300, 4, 3)


def _canvases(count=3, shape=(64, 84)):
    images = np.zeros((count, *shape), np.uint8)
    truths = np.full((count, *shape), BACKGROUND, np.uint8)
    truths[:, 10:20, 10:20] = 7
    predictions = truths.copy()
    predictions[0, 10:20, 10:20] = 1
    return images, truths, predictions


def test_gallery_figure_titles_columns_captions_rows_and_keys_the_colours():
    images, truths, predictions = _canvases()
    figure = gallery_figure(images, truths, predictions, ["canvas 0", "canvas 1", "canvas 2"])
    panels = np.array(figure.axes).reshape(3, 3)
    assert [ax.get_title() for ax in panels[0]] == ["image", "truth", "prediction"]
    assert [ax.get_ylabel() for ax in panels[:, 0]] == ["canvas 0", "canvas 1", "canvas 2"]
    (key,) = figure.legends
    assert [text.get_text() for text in key.get_texts()] == list(CLASS_NAMES)
    colours = [patch.get_facecolor()[:3] for patch in key.get_patches()]
    assert np.allclose(colours, PALETTE / 255)
    # Each panel is enlarged to at least 256 rows (64 * 4) and drawn pixel for pixel.
    shown = panels[0, 2].get_images()[0].get_array()
    assert shown.shape[:2] == (256, 336)
    assert np.array_equal(shown[40:80:4, 40:80:4], overlay(images[0], predictions[0])[10:20, 10:20])
    figure.canvas.draw()
    extent = panels[1, 1].get_window_extent()
    assert round(extent.height) == 256 and round(extent.width) == 336


def test_gallery_figure_refuses_nothing_and_mismatched_captions():
    images, truths, predictions = _canvases(count=2)
    with pytest.raises(ValueError, match="at least one"):
        gallery_figure([], [], [])
    with pytest.raises(ValueError, match="1 captions for 2 canvases"):
        gallery_figure(images, truths, predictions, ["only one"])


def test_class_key_lists_every_class():
    figure = confusion_matrix_figure(np.eye(2), ["a", "b"])
    legend = class_key(figure, "key", ncol=4)
    assert legend.get_title().get_text() == "key" and len(legend.get_texts()) == len(CLASS_NAMES)


def test_spread_limits_hug_the_data_within_bounds():
    low, high = spread_limits([0.83, 0.93, None, float("nan")], margin=0.1)
    assert (low, high) == pytest.approx((0.82, 0.94))
    assert spread_limits([0.99, 1.0]) == pytest.approx((0.98, 1.0))  # clipped at 1
    assert spread_limits([0.5, 0.5]) == pytest.approx((0.49, 0.51))  # at least 0.01 each side
    assert spread_limits([None]) == (0.0, 1.0)


def test_per_class_figure_shows_the_spread_with_the_legend_outside():
    iou = {name: 0.83 + 0.01 * i for i, name in enumerate(CLASS_NAMES)}
    iou["4"] = None  # a class absent from the canvases
    dice = {name: None if v is None else v + 0.05 for name, v in iou.items()}
    figure = per_class_figure(iou, dice, headline=0.87)
    (ax,) = figure.axes
    low, high = ax.get_ylim()
    assert 0.75 < low < 0.83 and 0.98 < high <= 1.0
    assert f"from {low:.2f}" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    figure.canvas.draw()
    legend, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes_box.x1  # right of the bars, not over them
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "mean IoU, digits",
        "IoU",
        "Dice",
    ]


def test_segmentation_masks_name_the_classes():
    truth = np.array([[1, BACKGROUND]], np.int64)
    prediction = np.array([[7, BACKGROUND]], np.int64)
    masks = segmentation_masks(truth, prediction)
    assert set(masks) == {"prediction", "ground_truth"}
    assert np.array_equal(masks["prediction"]["mask_data"], [[7, BACKGROUND]])
    assert masks["ground_truth"]["mask_data"].dtype == np.uint8
    assert masks["prediction"]["class_labels"] == {i: n for i, n in enumerate(CLASS_NAMES)}


class _Recorder:
    """Stands in for a WandbLogger: keeps what log_image was called with."""

    def log_image(self, **kwargs):
        self.logged = kwargs


def test_log_segmentations_sends_enlarged_images_with_matching_masks():
    images, truths, predictions = _canvases(count=2)
    logger = _Recorder()
    log_segmentations(logger, "val/predictions", images, truths, predictions, ["a", "b"], 5)
    logged = logger.logged
    assert (logged["key"], logged["step"], logged["caption"]) == ("val/predictions", 5, ["a", "b"])
    assert [image.shape for image in logged["images"]] == [(256, 336, 3)] * 2
    first = logged["masks"][0]
    assert first["prediction"]["mask_data"].shape == (256, 336)
    assert first["prediction"]["mask_data"][40, 40] == 1
    assert first["ground_truth"]["mask_data"][40, 40] == 7


def test_wandb_builds_an_image_with_both_masks(tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    images, truths, predictions = _canvases(count=1)
    image = wandb.Image(
        enlarge(images[0]), masks=segmentation_masks(enlarge(truths[0]), enlarge(predictions[0]))
    )
    assert set(image._masks) == {"prediction", "ground_truth"}
    assert image._masks["prediction"]._val["class_labels"][BACKGROUND] == "background"


def test_confusion_matrix_figure_renders():
    matrix = np.eye(11) * 5
    picture = figure_to_array(confusion_matrix_figure(matrix, CLASS_NAMES))
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.std() > 0
