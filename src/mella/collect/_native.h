/*
 * What the two C files of mella.collect._native share: _native.c (the module definition and the HTML
 * walk) and _charset.c (the byte scans and transcoding of mella.collect.decode). One module, so the
 * charset functions are plain (hidden) symbols that _native.c's method table points at.
 */
#ifndef MELLA_COLLECT_NATIVE_H
#define MELLA_COLLECT_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* _charset.c: module functions and their docstrings */
PyObject *mella_utf8_counts(PyObject *self, PyObject *arg);
PyObject *mella_mostly_utf8(PyObject *self, PyObject *args);
PyObject *mella_charmap_utf8(PyObject *self, PyObject *args);
PyObject *mella_control_bytes(PyObject *self, PyObject *args);

extern const char mella_utf8_counts_doc[];
extern const char mella_mostly_utf8_doc[];
extern const char mella_charmap_utf8_doc[];
extern const char mella_control_bytes_doc[];

#endif
