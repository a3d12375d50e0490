/*
 * mella.collect._native, charset half: the byte scans and the transcoding that mella.collect.decode
 * uses before a page is parsed (is it mostly UTF-8, is it binary, a one-byte codec straight to UTF-8).
 *
 * Compiled into the same extension module as _native.c, which holds the module definition and lists
 * these functions in its method table (declared in _native.h). Nothing here touches lexbor.
 */
#include "_native.h"

#include <string.h>

static PyObject *
utf8_scan(PyObject *arg, int stop_early, Py_ssize_t ratio)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const unsigned char *p = data.buf, *end = p + data.len, *check = p;
    Py_ssize_t good = 0, bad = 0;
    Py_BEGIN_ALLOW_THREADS
    if (stop_early) {
        /* A bound first, in one vectorised pass: every good character holds a continuation byte of
         * its own (80-BF), and every byte that can start nothing (C0, C1, F5-FF) is a U+FFFD of its
         * own, so continuations < ratio * such bytes settles it (legacy Cyrillic pages, typically). */
        size_t n = (size_t) data.len, conts = 0, strays = 0;
        for (size_t i = 0; i < n;) {
            size_t stop = n - i > 255 ? i + 255 : n;
            unsigned char c8 = 0, s8 = 0;
            for (size_t j = i; j < stop; j++) {
                unsigned char b = p[j];
                c8 += (b & 0xC0) == 0x80;
                s8 += (b == 0xC0) | (b == 0xC1) | (b >= 0xF5);
            }
            conts += c8;
            strays += s8;
            i = stop;
        }
        if (conts < (size_t) ratio * strays) {
            bad = (Py_ssize_t) strays;
            p = end; /* good stays 0: the answer is no */
        }
    }
    while (p < end) {
        if (stop_early && p >= check) {
            /* Every character still to come gives at most one good per two bytes: once even that
             * cannot reach good >= ratio * bad, the answer (for mostly_utf8) is known. */
            if (good + (end - p) / 2 < ratio * bad) {
                break;
            }
            check = p + 4096;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        unsigned char c = *p, lo = 0x80, hi = 0xBF;
        int need;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        }
        else {
            bad++;
            p++;
            continue;
        }
        const unsigned char *q = p + 1;
        int ok = 1;
        for (int k = 0; k < need; k++, q++) {
            if (q >= end || *q < lo || *q > hi) {
                ok = 0;
                break;
            }
            lo = 0x80;
            hi = 0xBF;
        }
        if (!ok || (need == 2 && c == 0xEF && p[1] == 0xBF && p[2] == 0xBD)) {
            bad++; /* one U+FFFD for the lead byte and the valid continuation bytes after it */
        }
        else {
            good++;
        }
        p = q;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (stop_early) {
        return PyBool_FromLong(good >= ratio * bad);
    }
    return Py_BuildValue("(nn)", good, bad);
}

const char mella_utf8_counts_doc[] = PyDoc_STR(
"utf8_counts(data: bytes) -> (good, bad)\n\n"
"For t = data.decode('utf-8', 'replace'): bad = t.count('\\ufffd') and good = the other non-ASCII\n"
"characters of t, without building t (replacement by maximal subparts, as CPython does).");

PyObject *
mella_utf8_counts(PyObject *self, PyObject *arg)
{
    return utf8_scan(arg, 0, 0);
}

const char mella_mostly_utf8_doc[] = PyDoc_STR(
"mostly_utf8(data: bytes, ratio: int = 2) -> bool\n\n"
"good >= ratio * bad for utf8_counts(data), stopping as soon as the answer is certain.");

PyObject *
mella_mostly_utf8(PyObject *self, PyObject *args)
{
    PyObject *data;
    Py_ssize_t ratio = 2;
    if (!PyArg_ParseTuple(args, "O|n", &data, &ratio)) {
        return NULL;
    }
    if (ratio < 1) {
        PyErr_SetString(PyExc_ValueError, "ratio must be at least 1");
        return NULL;
    }
    return utf8_scan(data, 1, ratio);
}

const char mella_charmap_utf8_doc[] = PyDoc_STR(
"charmap_utf8(data: bytes, table: str) -> bytes | None\n\n"
"data.decode(codec).encode('utf-8') for a one-byte codec whose decoding table (256 characters) is\n"
"``table``, in one pass; None where the strict decode fails (a byte the table maps to U+FFFE).");

PyObject *
mella_charmap_utf8(PyObject *self, PyObject *args)
{
    Py_buffer data;
    PyObject *table;
    if (!PyArg_ParseTuple(args, "y*U", &data, &table)) {
        return NULL;
    }
    if (PyUnicode_GET_LENGTH(table) != 256) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "a decoding table has 256 characters");
        return NULL;
    }
    unsigned char map[256][4], len[256];
    size_t widest = 1;
    for (int b = 0; b < 256; b++) {
        Py_UCS4 c = PyUnicode_READ_CHAR(table, b);
        if (c == 0xFFFE || (c >= 0xD800 && c <= 0xDFFF)) {
            len[b] = 0; /* undefined: the strict decode fails on it */
        }
        else if (c < 0x80) {
            map[b][0] = (unsigned char) c;
            len[b] = 1;
        }
        else if (c < 0x800) {
            map[b][0] = (unsigned char) (0xC0 | (c >> 6));
            map[b][1] = (unsigned char) (0x80 | (c & 0x3F));
            len[b] = 2;
        }
        else if (c < 0x10000) {
            map[b][0] = (unsigned char) (0xE0 | (c >> 12));
            map[b][1] = (unsigned char) (0x80 | ((c >> 6) & 0x3F));
            map[b][2] = (unsigned char) (0x80 | (c & 0x3F));
            len[b] = 3;
        }
        else {
            map[b][0] = (unsigned char) (0xF0 | (c >> 18));
            map[b][1] = (unsigned char) (0x80 | ((c >> 12) & 0x3F));
            map[b][2] = (unsigned char) (0x80 | ((c >> 6) & 0x3F));
            map[b][3] = (unsigned char) (0x80 | (c & 0x3F));
            len[b] = 4;
        }
        if (len[b] > widest) {
            widest = len[b];
        }
    }
    const unsigned char *p = data.buf;
    size_t n = (size_t) data.len;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t) (n * widest));
    if (out == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    unsigned char *w = (unsigned char *) PyBytes_AS_STRING(out);
    int ok = 1, ascii_same = 1;
    for (int b = 0; b < 0x80; b++) {
        ascii_same &= len[b] == 1 && map[b][0] == b;
    }
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < n; i++) {
        if (ascii_same) { /* markup is ASCII: eight bytes at a time while they are */
            while (i + 8 <= n) {
                uint64_t word;
                memcpy(&word, p + i, 8);
                if (word & 0x8080808080808080ULL) {
                    break;
                }
                memcpy(w, &word, 8);
                w += 8;
                i += 8;
            }
            if (i >= n) {
                break;
            }
        }
        unsigned char b = p[i];
        if (b < 0x80 && len[b] == 1) {
            *w++ = map[b][0];
            continue;
        }
        if (len[b] == 0) {
            ok = 0;
            break;
        }
        for (int k = 0; k < len[b]; k++) {
            *w++ = map[b][k];
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (!ok) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t) (w - (unsigned char *) PyBytes_AS_STRING(out))) < 0) {
        return NULL;
    }
    return out;
}

const char mella_control_bytes_doc[] = PyDoc_STR(
"control_bytes(data: bytes, sample: int) -> (nuls, controls)\n\n"
"Over data[:sample]: how many bytes are NUL, and how many are in 1-8, 11 or 14-31.");

PyObject *
mella_control_bytes(PyObject *self, PyObject *args)
{
    Py_buffer data;
    Py_ssize_t sample;
    if (!PyArg_ParseTuple(args, "y*n", &data, &sample)) {
        return NULL;
    }
    const unsigned char *p = data.buf;
    size_t n = (size_t) (data.len < sample ? data.len : (sample > 0 ? sample : 0));
    Py_ssize_t nul = 0, controls = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = p[i];
        nul += b == 0;
        controls += (b >= 1 && b <= 8) | (b == 11) | (b >= 14 && b <= 31);
    }
    PyBuffer_Release(&data);
    return Py_BuildValue("(nn)", nul, controls);
}
