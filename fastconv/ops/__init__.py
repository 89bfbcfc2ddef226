"""The ops layer: numpy in, numpy out, with torch.nn.functional's names and arguments.

``functional`` normalises and checks the arguments and allocates the outputs; ``reference``
runs the same calls on the plain C reference twins; ``_ext`` (Cython: ``_ext.pyx``, with the C
library's declarations in ``libfastconv.pxd``) hands the arrays to the C library in csrc/
without the GIL.  Their public names are ``fastconv.functional``, ``fastconv.reference`` and
``fastconv._ext``: the same modules (see ``fastconv.__doc__``).
"""
