"""The worked examples of the seeds, exactly."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import fastconv
import oracle
from tolerances import assert_exact, assert_integer_exact, assert_reduction_close

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
ALGORITHMS = ["auto", "direct", "im2col"]

X5 = [[3, 5, 2, 8, 1],
      [9, 7, 5, 4, 3],
      [2, 0, 6, 1, 6],
      [6, 3, 7, 9, 2],
      [1, 4, 9, 5, 1]]
F3 = [[1, 0, 0],
      [1, 1, 0],
      [0, 0, 1]]
Y3 = [[25, 18, 17],
      [18, 22, 14],
      [20, 15, 23]]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_5x5_input_with_3x3_filter_gives_the_worked_3x3_output(dtype, algorithm):
    x = np.array(X5, dtype=dtype).reshape(1, 1, 5, 5)
    w = np.array(F3, dtype=dtype).reshape(1, 1, 3, 3)
    y = fastconv.conv2d(x, w, algorithm=algorithm)
    assert_exact(y, np.array(Y3, dtype=dtype).reshape(1, 1, 3, 3))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_unbatched_5x5_input_gives_unbatched_worked_output(dtype, algorithm):
    x = np.array(X5, dtype=dtype).reshape(1, 5, 5)
    w = np.array(F3, dtype=dtype).reshape(1, 1, 3, 3)
    y = fastconv.conv2d(x, w, algorithm=algorithm)
    assert_exact(y, np.array(Y3, dtype=dtype).reshape(1, 3, 3))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_padding_1_keeps_the_5x5_size_and_equals_the_oracle(dtype, algorithm):
    x = np.array(X5, dtype=dtype).reshape(1, 1, 5, 5)
    w = np.array(F3, dtype=dtype).reshape(1, 1, 3, 3)
    y = fastconv.conv2d(x, w, padding=1, algorithm=algorithm)
    assert y.shape == (1, 1, 5, 5)
    expected = oracle.conv2d(x, w, padding=((1, 1), (1, 1)))
    assert_integer_exact(y, expected, dtype)
    # the interior is the unpadded result
    assert_exact(y[:, :, 1:4, 1:4], np.array(Y3, dtype=dtype).reshape(1, 1, 3, 3))
    # the top-left corner by hand: of the filter's ones, w[1,0] falls on padding,
    # w[1,1] on x[0,0] = 3 and w[2,2] on x[1,1] = 7
    assert y[0, 0, 0, 0] == 3 + 7


@pytest.mark.parametrize("dtype", DTYPES)
def test_2x2_stride_2_max_pool_of_4x4_gives_the_four_maxima(dtype):
    x = np.array([[1, 3, 2, 0],
                  [4, 6, 5, 7],
                  [8, 0, 1, 2],
                  [3, 9, 4, 1]], dtype=dtype).reshape(1, 1, 4, 4)
    y, idx = fastconv.max_pool2d(x, 2, stride=2, return_indices=True)
    assert_exact(y, np.array([[6, 7], [9, 4]], dtype=dtype).reshape(1, 1, 2, 2))
    assert_exact(idx, np.array([[5, 7], [13, 14]], dtype=np.int64).reshape(1, 1, 2, 2))
    # stride defaults to kernel_size
    assert_exact(fastconv.max_pool2d(x, 2), y)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_all_ones_5x5_filter_is_25_times_the_box_mean(dtype, algorithm):
    rng = np.random.default_rng(5)
    img = rng.standard_normal((9, 11)).astype(dtype)
    w = np.ones((1, 1, 5, 5), dtype=dtype)
    y = fastconv.conv2d(img[None, None], w, algorithm=algorithm)
    windows = sliding_window_view(img.astype(np.float64), (5, 5))
    box = 25 * windows.mean(axis=(-2, -1))
    bound = 25 * np.abs(windows).mean(axis=(-2, -1))
    assert y.shape == (1, 1, 5, 7)
    assert_reduction_close(y[0, 0], box, bound, 25, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_ones_5x5_filter_is_25_times_avg_pool_with_stride_1(dtype):
    img = np.arange(80, dtype=dtype).reshape(1, 1, 8, 10) % 7 - 3  # integer valued
    conv = fastconv.conv2d(img, np.ones((1, 1, 5, 5), dtype=dtype))
    avg = fastconv.avg_pool2d(img, 5, stride=1)
    expected = oracle.conv2d(img, np.ones((1, 1, 5, 5)))
    assert_integer_exact(conv, expected, dtype)
    assert_reduction_close(avg * dtype(25), expected, 25 * oracle.avg_pool2d_abs_bound(
        img, (5, 5), (1, 1)), 25, dtype)
