"""The training loop behind ``python -m fastconv train``: LeNet-5 on MNIST in well under a
minute on two cores.

The default recipe (Adam, one-cycle learning rate peaking at 3e-3, 2 epochs, batch 64) was
chosen by measurement: see ``RECIPES`` and bench/train_lenet5.py.
"""
import math
import signal
import sys
import threading
import time

import numpy as np

from . import data, models, nn, optim

__all__ = ["fit", "evaluate", "predict", "train_step", "History", "Progress", "RECIPES",
           "run", "add_arguments"]

# Per optimiser: the peak learning rate and the number of epochs of the default one-cycle
# schedule, measured on MNIST with batch 64.  Adam: 99.05-99.10% test accuracy after 2 epochs
# in PyTorch (3 runs), 99.03-99.10% here (the kernels' summation order changes the last
# bits); 1 epoch at peak 5e-3 gives 98.83-98.87%, too close to 98.8% to be the default.
# SGD with Nesterov momentum: 98.79-99.14% after 2 epochs in PyTorch, less steady.
RECIPES = {"adam": dict(lr=3e-3, epochs=2), "sgd": dict(lr=0.1, epochs=2)}
# The networks `--model` names: their builder, title and what they change of the recipe.
# resnet8 (models.resnet8: BatchNorm, residual blocks) on Fashion-MNIST: see README's
# training section for the measured accuracy and time of these defaults.
MODELS = {"lenet5": dict(build=models.lenet5, title="LeNet-5", recipe={}),
          "resnet8": dict(build=models.resnet8, title="ResNet-8 (BatchNorm)",
                          recipe=dict(epochs=4, lr=4e-3, batch_size=128))}

NORMALIZATION = {"mnist": (0.1307, 0.3081), "fashion-mnist": (0.2860, 0.3530)}
# The names of the 10 classes, saved with the model for `fastconv predict`.
CLASS_NAMES = {"mnist": [str(digit) for digit in range(10)],
               "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]}


def plural(count, noun):
    """"1 epoch", "2 epochs": the count and the noun, in the number the count asks for."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def make_optimizer(name, params, lr):
    if name == "adam":
        return optim.Adam(params, lr=lr)
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


def train_step(model, criterion, optimizer, x, y):
    """One step: forward, loss, backward, update.  Returns (loss, number of correct)."""
    logits = model(x)
    loss = criterion(logits, y)
    optimizer.zero_grad()
    model.backward(criterion.backward(), input_grad=False)
    optimizer.step()
    return loss, int((logits.argmax(axis=1) == y).sum())


def predict(model, x, batch_size=1000):
    """Logits of ``model`` (in eval mode) for all of x, batch by batch."""
    was_training = model.training
    model.eval()
    try:
        return np.concatenate([model(x[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model, x, y, batch_size=1000):
    """(mean cross-entropy, accuracy) of ``model`` on (x, y)."""
    logits = predict(model, x, batch_size)
    loss = float(-nn.log_softmax(logits.astype(np.float64))[np.arange(len(y)), y].mean())
    return loss, _accuracy(logits, y)


def _accuracy(logits, y):
    return float((logits.argmax(axis=1) == y).mean())


# fit records the accuracy at every quarter of an epoch, so that a 1-epoch run draws curves.
# The test accuracy there is measured on a fixed subset of the test set: all 10000 MNIST test
# images are a sixth as many forward passes as an epoch of training makes, three more times an
# epoch; 2000 images are a fifth of that.  The end of each epoch still evaluates the whole set.
QUARTER_TEST_IMAGES = 2000


def quarter_test_subset(n, size=QUARTER_TEST_IMAGES):
    """Indices of the test images evaluated at each quarter epoch: all n when n <= size, else
    ``size`` of them drawn once with a fixed seed (not the run's: every run and every quarter
    is measured on the same images, and the training's random stream is untouched)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size, replace=False))


class History:
    """What a run records: per-step losses; per-epoch train/test accuracy and throughput; and
    at every quarter of an epoch (``quarter_epoch``: the position, in epochs) the training
    accuracy over the batches of that quarter and the test accuracy on
    ``quarter_test_images`` of the ``test_images`` test images (see quarter_test_subset)."""

    def __init__(self):
        self.step_loss, self.epoch_train_acc, self.epoch_test_acc = [], [], []
        self.epoch_images_per_s, self.epoch_seconds = [], []
        self.quarter_epoch, self.quarter_train_acc, self.quarter_test_acc = [], [], []
        self.quarter_test_images = self.test_images = None


class Progress:
    """A progress bar for one epoch.  On a terminal it redraws one line (at most 10 times a
    second); otherwise (CI logs, pipes) it prints a plain line at every quarter of the
    epoch, so a log stays readable."""

    def __init__(self, epoch, epochs, total, stream=None):
        self.epoch, self.epochs, self.total = epoch, epochs, total
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.start = self.last_draw = time.perf_counter()
        self.next_quarter = 1

    def update(self, done, loss, accuracy, final=False):
        now = time.perf_counter()
        rate = done / max(now - self.start, 1e-9)
        text = (f"epoch {self.epoch}/{self.epochs} {done:>6}/{self.total} "
                f"loss {loss:.4f} acc {100 * accuracy:6.2f}% {rate:8.0f} img/s")
        if self.tty:
            if final or now - self.last_draw >= 0.1:
                filled = int(20 * done / self.total)
                bar = "#" * filled + "." * (20 - filled)
                self.stream.write(f"\r[{bar}] {text}" + ("\n" if final else ""))
                self.stream.flush()
                self.last_draw = now
        elif final or done * 4 >= self.next_quarter * self.total:
            while done * 4 >= self.next_quarter * self.total:
                self.next_quarter += 1
            self.stream.write(text + "\n")
            self.stream.flush()


def fit(model, x_train, y_train, *, epochs, batch_size, optimizer, scheduler=None, seed=0,
        x_test=None, y_test=None, history=None, stream=None, quiet=False):
    """Train ``model`` in place; returns the History (also filled in when interrupted).

    Shuffling draws from a Generator seeded by ``seed``: with the same seed, data and thread
    count, two runs give bitwise the same parameters (the evaluations at each quarter epoch,
    when a test set is given, change nothing of the training; their time is left out of the
    epoch's time and images/s).
    """
    return _fit(model, x_train, y_train, epochs, batch_size, optimizer, scheduler, seed,
                x_test, y_test, history or History(), stream, quiet)


def _fit(model, x_train, y_train, epochs, batch_size, optimizer, scheduler, seed, x_test,
         y_test, history, stream, quiet):
    criterion = nn.CrossEntropyLoss()
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    n = len(x_train)
    if x_test is not None:
        subset = quarter_test_subset(len(x_test))
        x_sub, y_sub = (x_test, y_test) if len(subset) == len(x_test) else (x_test[subset],
                                                                            y_test[subset])
        history.quarter_test_images, history.test_images = len(subset), len(x_test)
    for epoch in range(1, epochs + 1):
        model.train()
        progress = None if quiet else Progress(epoch, epochs, n, stream)
        seen = correct = quarter_seen = quarter_correct = 0
        next_quarter = 1
        loss_sum = spent = 0.0
        start = time.perf_counter()
        for xb, yb in data.batches(x_train, y_train, batch_size, rng=rng):
            loss, right = train_step(model, criterion, optimizer, xb, yb)
            if scheduler is not None:
                scheduler.step()
            history.step_loss.append(loss)
            seen += len(yb)
            correct += right
            quarter_seen += len(yb)
            quarter_correct += right
            loss_sum += loss * len(yb)
            if progress:
                progress.update(seen, loss_sum / seen, correct / seen, final=seen == n)
            if seen * 4 < next_quarter * n:
                continue
            # a quarter (or more, with fewer than 4 batches an epoch) ends with this batch
            evaluated = time.perf_counter()
            quarter_test = None
            if x_test is not None:
                if seen == n:              # the epoch's end: the whole test set, subset in it
                    logits = predict(model, x_test)
                    epoch_test = _accuracy(logits, y_test)
                    quarter_test = _accuracy(logits[subset], y_test[subset])
                else:
                    quarter_test = _accuracy(predict(model, x_sub), y_sub)
            while seen * 4 >= next_quarter * n:
                history.quarter_epoch.append(epoch - 1 + seen / n)
                history.quarter_train_acc.append(quarter_correct / quarter_seen)
                if quarter_test is not None:
                    history.quarter_test_acc.append(quarter_test)
                next_quarter += 1
            quarter_seen = quarter_correct = 0
            evaluated = time.perf_counter() - evaluated
            spent += evaluated
            if progress:
                progress.start += evaluated            # its images/s: training only
        seconds = time.perf_counter() - start - spent
        history.epoch_seconds.append(seconds)
        history.epoch_images_per_s.append(seen / seconds)
        history.epoch_train_acc.append(correct / seen)
        if x_test is not None:
            accuracy = epoch_test
            history.epoch_test_acc.append(accuracy)
            if not quiet:
                print(f"epoch {epoch}/{epochs}: test accuracy {100 * accuracy:.2f}%",
                      file=stream or sys.stdout, flush=True)
    return history


DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def plot(history, model, path, dataset=None, interrupted=False):
    """Loss and accuracy curves and the first convolution's filters, to ``path`` (PNG).

    The title gives the dataset, the epochs trained and the final test accuracy; the
    accuracies are those of every quarter epoch (History); the filters are numbered from 1,
    row by row.  Returns what was drawn, for tests: ``{"title": str, "accuracy": {label: (x,
    y)}, "filters": [(title, row, column)]}``.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from None
    first_conv = next(m for _, m in model.named_modules() if isinstance(m, nn.Conv2d))
    filters = first_conv.weight.data
    columns = math.ceil(len(filters) / 2)
    fig = plt.figure(figsize=(13, 4.5))
    grid = fig.add_gridspec(2, 2 + columns, width_ratios=[4, 4] + [1] * columns)

    epochs_done = len(history.epoch_train_acc)
    title = plural(epochs_done, "epoch")
    if dataset:
        title = f"{DATASET_NAMES.get(dataset, dataset)}, {title}"
    if interrupted:
        title += f" (interrupted after {plural(len(history.step_loss), 'step')})"
    if history.epoch_test_acc:
        title += f": test accuracy {100 * history.epoch_test_acc[-1]:.2f}%"
        if interrupted:
            title += f" after epoch {len(history.epoch_test_acc)}"
    fig.suptitle(title)

    ax = fig.add_subplot(grid[:, 0])
    losses = np.asarray(history.step_loss)
    ax.plot(losses, lw=0.5, alpha=0.4, label="batch")
    if len(losses) >= 50:
        ax.plot(np.arange(49, len(losses)), np.convolve(losses, np.ones(50) / 50, "valid"),
                label="mean of 50")
    ax.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="training loss")
    ax.legend()

    ax = fig.add_subplot(grid[:, 1])
    accuracy = {}
    x = list(history.quarter_epoch)
    if x:
        accuracy["train (each quarter's batches)"] = (x, list(history.quarter_train_acc))
    if history.quarter_test_acc:
        n, total = history.quarter_test_images, history.test_images
        label = (f"test (all {total} images)" if n == total else
                 f"test (a fixed {n} of the {total} images)")
        accuracy[label] = (x[:len(history.quarter_test_acc)], list(history.quarter_test_acc))
        if n != total and history.epoch_test_acc:
            accuracy[f"test (all {total}, at each epoch's end)"] = (
                list(range(1, len(history.epoch_test_acc) + 1)), list(history.epoch_test_acc))
    for label, (xs, ys) in accuracy.items():
        style = "D" if "epoch's end" in label else ".-"
        ax.plot(xs, 100 * np.asarray(ys), style, ms=3, label=label)
    ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy, 4 times an epoch")
    if accuracy:
        ax.legend(fontsize=8, loc="lower right")

    drawn = []
    for i, f in enumerate(filters):
        row, column = divmod(i, columns)
        ax = fig.add_subplot(grid[row, 2 + column])
        ax.imshow(f[0], cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"conv1 #{i + 1}", fontsize=8)
        drawn.append((f"conv1 #{i + 1}", row, column))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return dict(title=title, accuracy=accuracy, filters=drawn)


def add_arguments(parser):
    parser.add_argument("--dataset", choices=sorted(data.DATASETS), default="mnist",
                        help="default mnist")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the data (default $FASTCONV_DATA, else "
                             "~/.cache/fastconv)")
    parser.add_argument("--model", choices=sorted(MODELS), default="lenet5",
                        help="default lenet5; resnet8: a small ResNet with BatchNorm "
                             "(defaults 4 epochs, batch 128, adam peak lr 4e-3)")
    parser.add_argument("--optimizer", choices=sorted(RECIPES), default="adam",
                        help="default adam")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: the optimizer's recipe (2), resnet8's (4)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default 64 (resnet8: 128)")
    parser.add_argument("--lr", type=float, default=None,
                        help="the peak learning rate (default: adam 3e-3, sgd 0.1; resnet8 "
                             "with adam 4e-3). The "
                             "default --schedule onecycle rises from lr/25 to lr over the "
                             "first 30%% of the steps, then anneals (cosine) to lr/2.5e5; "
                             "cosine starts at lr and anneals to 0; constant keeps lr")
    parser.add_argument("--schedule", choices=("onecycle", "cosine", "constant"),
                        default="onecycle", help="learning-rate schedule, default onecycle")
    # All cores by default: threads claim tiles dynamically and sleep soon after each op, so a
    # busy core costs its share, not the run (csrc/common/parallel.h, fastconv/_openmp.py).
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for the ops (default: fastconv's own count, all cores "
                             "unless OMP_NUM_THREADS or threadpoolctl say fewer)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the initialisation and the shuffling (default 0)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N training images only (quick tries)")
    parser.add_argument("--save", metavar="MODEL.npz", default=None,
                        help="save the trained parameters (also after Ctrl-C)")
    parser.add_argument("--plot", metavar="FILE.png", default=None,
                        help="loss and accuracy curves (accuracy 4 times an epoch) and the "
                             "first layer's filters (needs matplotlib)")


def run(args, stream=None):
    """``python -m fastconv train``: returns the process exit code."""
    import fastconv

    out = stream or sys.stdout
    spec = MODELS[getattr(args, "model", "lenet5")]
    recipe = dict(RECIPES[args.optimizer], batch_size=64)
    recipe.update({key: value for key, value in spec["recipe"].items()
                   if key != "lr" or args.optimizer == "adam"})
    epochs = recipe["epochs"] if args.epochs is None else args.epochs
    lr = recipe["lr"] if args.lr is None else args.lr
    args.batch_size = recipe["batch_size"] if args.batch_size is None else args.batch_size
    for name, value in (("--epochs", epochs), ("--batch-size", args.batch_size)):
        if value <= 0:
            print(f"fastconv train: {name} must be positive, got {value}", file=sys.stderr)
            return 2
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("fastconv train: --plot needs matplotlib: pip install matplotlib",
                  file=sys.stderr)
            return 2
    if args.threads is not None:
        if args.threads <= 0:
            print(f"fastconv train: --threads must be positive, got {args.threads}",
                  file=sys.stderr)
            return 2
        fastconv.set_num_threads(args.threads)
    start = time.perf_counter()
    try:
        d = data.load(args.dataset, args.data_dir)
    except (data.DatasetNotFoundError, data.ChecksumError) as exc:
        print(f"fastconv train: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted while loading the data; nothing to save", file=out, flush=True)
        return 130
    mean, std = NORMALIZATION[args.dataset]
    x_train, y_train = data.to_float(d.train_images, mean, std), d.train_labels.astype(np.intp)
    x_test, y_test = data.to_float(d.test_images, mean, std), d.test_labels.astype(np.intp)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    print(f"{args.dataset}: {len(x_train)} training and {plural(len(x_test), 'test image')} "
          f"from {d.source} ({time.perf_counter() - start:.2f} s)", file=out, flush=True)

    model = spec["build"](num_classes=10, seed=args.seed)
    optimizer = make_optimizer(args.optimizer, model.parameters(), lr)
    steps = epochs * math.ceil(len(x_train) / args.batch_size)
    scheduler = {"onecycle": lambda: optim.OneCycleLR(optimizer, lr, max(steps, 2)),
                 "cosine": lambda: optim.CosineAnnealingLR(optimizer, steps),
                 "constant": lambda: None}[args.schedule]()
    print(f"{spec['title']}, {args.optimizer} with {args.schedule} learning rate (peak {lr:g}), "
          f"{plural(epochs, 'epoch')} of batch {args.batch_size}, "
          f"{plural(fastconv.get_num_threads(), 'thread')}, seed {args.seed}", file=out, flush=True)

    history = History()
    interrupted = False
    # Ctrl-C raises KeyboardInterrupt in the loop (whatever handler the caller had), and the
    # run ends with what it has: the model is still saved and plotted.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler) if main_thread else None
    try:
        fit(model, x_train, y_train, epochs=epochs, batch_size=args.batch_size,
            optimizer=optimizer, scheduler=scheduler, seed=args.seed, x_test=x_test,
            y_test=y_test, history=history, stream=out)
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted after {plural(len(history.step_loss), 'step')}", file=out,
              flush=True)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)

    if not interrupted:
        accuracy = history.epoch_test_acc[-1]             # fit evaluated the final model
        total = time.perf_counter() - start
        rate = len(x_train) * epochs / sum(history.epoch_seconds)
        print(f"test accuracy {100 * accuracy:.2f}% after {plural(epochs, 'epoch')}; "
              f"{total:.1f} s in all (data loading included), {rate:.0f} training images/s",
              file=out, flush=True)
    if args.save:
        models.save(model, args.save, mean=mean, std=std, input_shape=(1, 28, 28),
                    classes=CLASS_NAMES[args.dataset])
        print(f"saved the model to {args.save}", file=out, flush=True)
    if args.plot:
        plot(history, model, args.plot, dataset=args.dataset, interrupted=interrupted)
        print(f"plotted the curves and filters to {args.plot}", file=out, flush=True)
    return 130 if interrupted else 0
