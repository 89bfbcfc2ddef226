"""The training layer, built on the public ops only: ``nn`` (layers, loss, Sequential),
``optim`` (SGD, Adam, schedules), ``data`` (MNIST), ``models`` (LeNet-5, saving, PyTorch
state dicts) and ``train`` (the loop behind ``fastconv train``).

Their public names are ``fastconv.nn``, ``fastconv.optim``, ... (the same modules, see
``fastconv.__doc__``).  Nothing here is imported until it is used.
"""
