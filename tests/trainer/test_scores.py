"""Segmentation scores on hand-made masks whose answers are known."""

import math

import numpy as np
import pytest

from trainer import scores as sm

# 4×4 truth and prediction; counted by hand:
#   truth:      pet 6, background 8, border 2
#   confusion (rows truth, cols prediction): pet->pet 4, pet->bg 2; bg->bg 7, bg->border 1;
#   border->border 1, border->pet 1
TRUTH = np.array([[0, 0, 0, 1], [0, 0, 0, 1], [1, 1, 1, 1], [1, 1, 2, 2]])
PREDICTION = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1], [1, 2, 2, 0]])


def test_confusion_matrix_counts_every_pixel():
    matrix = sm.confusion_matrix(TRUTH, PREDICTION, 3)
    assert matrix.tolist() == [[4, 2, 0], [0, 7, 1], [1, 0, 1]]


def test_pixel_accuracy_iou_dice_and_mean_iou():
    matrix = sm.confusion_matrix(TRUTH, PREDICTION, 3)
    assert sm.pixel_accuracy(matrix) == pytest.approx(12 / 16)
    # IoU = TP / (TP + FP + FN): pet 4/(4+1+2), background 7/(7+2+1), border 1/(1+1+1)
    assert sm.iou_per_class(matrix).tolist() == pytest.approx([4 / 7, 7 / 10, 1 / 3])
    # Dice = 2TP / (2TP + FP + FN)
    assert sm.dice_per_class(matrix).tolist() == pytest.approx([8 / 11, 14 / 17, 2 / 4])
    assert sm.mean_iou(matrix) == pytest.approx((4 / 7 + 7 / 10 + 1 / 3) / 3)


def test_a_perfect_prediction_scores_one_and_an_absent_class_is_left_out():
    matrix = sm.confusion_matrix(TRUTH[:2, :], TRUTH[:2, :], 3)  # no border anywhere
    assert sm.pixel_accuracy(matrix) == 1.0
    ious = sm.iou_per_class(matrix)
    assert ious[:2].tolist() == [1.0, 1.0] and math.isnan(ious[2])
    assert sm.mean_iou(matrix) == 1.0


def test_padding_and_out_of_range_pixels_are_not_counted():
    truth = np.array([[0, -1], [1, 2]])
    prediction = np.array([[0, 2], [1, 2]])
    assert sm.confusion_matrix(truth, prediction, 3).sum() == 3
