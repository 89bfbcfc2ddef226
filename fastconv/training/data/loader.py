"""From uint8 images to float batches: normalisation and a seeded batch iterator."""
import numpy as np

__all__ = ["to_float", "batches", "MNIST_MEAN", "MNIST_STD"]

# The usual MNIST statistics (mean and standard deviation of the training pixels / 255).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def to_float(images, mean=MNIST_MEAN, std=MNIST_STD, dtype=np.float32):
    """uint8 (N, H, W) images -> (N, 1, H, W) floats, (x / 255 - mean) / std.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.data import to_float
    >>> to_float(np.array([[[0, 255]]], np.uint8), mean=0.5, std=0.5)
    array([[[[-1.,  1.]]]], dtype=float32)
    """
    images = np.asarray(images)
    x = images.astype(dtype).reshape(images.shape[0], 1, *images.shape[1:])
    x *= dtype(1.0 / (255.0 * std))
    x -= dtype(mean / std)
    return x


def batches(x, y, batch_size, *, shuffle=True, rng=None, drop_last=False):
    """Yield (x_batch, y_batch) pairs covering x and y once.

    With ``shuffle``, the order is a permutation drawn from ``rng`` (a numpy Generator or a
    seed), so the same seed gives the same batches.  The last batch may be smaller unless
    ``drop_last``.  Batches are C-contiguous copies (fancy indexing), ready for the ops.

    Example
    -------
    >>> import numpy as np
    >>> from fastconv.data import batches
    >>> x, y = np.arange(5), np.arange(5) * 10
    >>> [yb.tolist() for _, yb in batches(x, y, 2, rng=0)]
    [[20, 40], [30, 0], [10]]
    """
    if len(x) != len(y):
        raise ValueError(f"batches: x and y must have the same length, got {len(x)} and "
                         f"{len(y)}")
    if batch_size <= 0:
        raise ValueError(f"batches: batch_size must be positive, got {batch_size}")
    n = len(x)
    if shuffle:
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        order = rng.permutation(n)
    else:
        order = None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            yield x[start:start + batch_size], y[start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            yield x[index], y[index]
