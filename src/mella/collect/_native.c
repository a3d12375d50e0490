/*
 * mella.collect._native: image + alt-text extraction in one C walk of lexbor's tree.
 *
 * The same extraction as the selectolax path of mella/collect/html.py (which stays the reference
 * and the fallback), without a Python object per node: the page is parsed by lexbor (same options
 * as the selectolax path: no mutation events, scripting off), then one depth-first walk collects
 * the page metadata, every <img> with a non-empty alt (its source, title, figure caption, a window
 * of the visible text around it, and the structure around it: landmark, link, declared size and
 * position, read from its ancestors) and nothing else. Strings follow Python's semantics:
 * UTF-8 decoded with "replace", whitespace as str.split() sees it. docs/collect.md says why.
 *
 * This file is the module definition and the HTML side; the charset scans and transcoding that
 * mella.collect.decode calls (utf8_counts, mostly_utf8, charmap_utf8, control_bytes) are in
 * _charset.c, compiled into the same module and declared in _native.h.
 */
#include "_native.h"

#include <stdlib.h>
#include <string.h>

#include <lexbor/dom/dom.h>
#include <lexbor/html/html.h>

/* ---------------------------------------------------------------- growable buffers */

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static int
buf_put(buf_t *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->n + len) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    if (len) {
        memcpy(b->p + b->n, data, len);
    }
    b->n += len;
    return 0;
}

/* ---------------------------------------------------------------- strings, as Python sees them */

static PyObject *
decode(const lxb_char_t *data, size_t len)
{
    if (data == NULL || len == 0) {
        return PyUnicode_FromStringAndSize("", 0);
    }
    return PyUnicode_DecodeUTF8((const char *) data, (Py_ssize_t) len, "replace");
}

/* ASCII whitespace as str.isspace() sees it: \t \n \v \f \r, \x1c-\x1f and the space. */
static const unsigned char ASCII_SPACE[128] = {
    [9] = 1, [10] = 1, [11] = 1, [12] = 1, [13] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1, [32] = 1,
};

/* str.isspace() of one character, inline: the 29 whitespace characters of Unicode (a test checks
 * the list against Python's). */
static inline int
is_space(Py_UCS4 c)
{
    if (c < 0x80) {
        return ASCII_SPACE[c];
    }
    if (c < 0x2000) {
        return c == 0x85 || c == 0xA0 || c == 0x1680;
    }
    return c <= 0x200A || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* A control character that is not whitespace (C0, DEL, C1 but U+0085): mella.collect.decode.CONTROLS,
 * which clean() and the context windows remove (terminal escapes and the like never reach a row). */
static inline int
is_control(Py_UCS4 c)
{
    return (c < 0x20 && !ASCII_SPACE[c]) || (c >= 0x7F && c < 0xA0 && c != 0x85);
}

/* The length of the whitespace character at p (as str.isspace() sees it), or 0. */
static inline size_t
ws_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        return ASCII_SPACE[c];
    }
    if (c == 0xC2) { /* U+0085, U+00A0 */
        return n >= 2 && (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    }
    if (c == 0xE1) { /* U+1680 */
        return n >= 3 && p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
    }
    if (c == 0xE2) { /* U+2000..U+200A, U+2028, U+2029, U+202F, U+205F */
        if (n < 3) {
            return 0;
        }
        if (p[1] == 0x80) {
            return (p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF ? 3 : 0;
        }
        return p[1] == 0x81 && p[2] == 0x9F ? 3 : 0;
    }
    if (c == 0xE3) { /* U+3000 */
        return n >= 3 && p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
    }
    return 0;
}

/* The length of the (possibly invalid) UTF-8 character at p: 1 for a byte that starts none. */
static inline size_t
char_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t k = c < 0x80 ? 1 : c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 1;
    if (k > n) {
        return 1;
    }
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 1;
        }
    }
    return k;
}

/*
 * " ".join(text.split()) of UTF-8 bytes, decoded with "replace". Collapsing before decoding gives
 * the same string as after: the whitespace sequences are complete valid characters, and a decoder
 * never folds a lead byte into an earlier invalid sequence.
 */
static PyObject *
collapse_utf8(const lxb_char_t *data, size_t n)
{
    const unsigned char *p = (const unsigned char *) data;
    char small[512];
    char *out = n <= sizeof(small) ? small : PyMem_Malloc(n);
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    size_t i = 0, m = 0;
    int pending = 0;
    while (i < n) {
        size_t w = ws_len(p + i, n - i);
        if (w) {
            pending = m > 0;
            i += w;
            continue;
        }
        if (pending) {
            out[m++] = ' ';
            pending = 0;
        }
        out[m++] = (char) p[i++];
    }
    PyObject *r = m ? PyUnicode_DecodeUTF8(out, (Py_ssize_t) m, "replace") : PyUnicode_FromStringAndSize("", 0);
    if (out != small) {
        PyMem_Free(out);
    }
    return r;
}

/* s.strip(); steals the reference to s. */
static PyObject *
strip(PyObject *s)
{
    if (s == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), a = 0, b = n;
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    while (a < b && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, a))) {
        a++;
    }
    while (b > a && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, b - 1))) {
        b--;
    }
    if (a == 0 && b == n) {
        return s;
    }
    PyObject *r = PyUnicode_Substring(s, a, b);
    Py_DECREF(s);
    return r;
}

/* s[start:start + len(word)].lower() == word, for an ASCII word (no other character lowers to one). */
static int
slice_ieq(PyObject *s, Py_ssize_t start, const char *word, Py_ssize_t k)
{
    if (PyUnicode_GET_LENGTH(s) - start < k) {
        return 0;
    }
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t j = 0; j < k; j++) {
        Py_UCS4 c = PyUnicode_READ(kind, d, start + j);
        if (c >= 'A' && c <= 'Z') {
            c += 32;
        }
        if (c != (Py_UCS4) (unsigned char) word[j]) {
            return 0;
        }
    }
    return 1;
}

/* s.lstrip()[:5].lower() == "data:" */
static int
is_data_uri(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), i = 0;
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    while (i < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, i))) {
        i++;
    }
    return slice_ieq(s, i, "data:", 5);
}

/* bytes equal to an ASCII word, ignoring ASCII case (no other character lowers to these words). */
static int
ascii_ieq(const lxb_char_t *p, size_t n, const char *word)
{
    size_t k = strlen(word);
    if (p == NULL || n != k) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        lxb_char_t c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c += 32;
        }
        if (c != (lxb_char_t) word[i]) {
            return 0;
        }
    }
    return 1;
}

static inline int
name_is(const lxb_char_t *p, size_t n, const char *word)
{
    size_t k = strlen(word);
    return p != NULL && n == k && memcmp(p, word, k) == 0;
}

/* "canonical" in rel.lower().split() */
static int
has_token(const lxb_char_t *p, size_t n, const char *word)
{
    PyObject *s = decode(p, n);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t len = PyUnicode_GET_LENGTH(s), i = 0, k = (Py_ssize_t) strlen(word);
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    int found = 0;
    while (i < len && !found) {
        while (i < len && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, i))) {
            i++;
        }
        Py_ssize_t start = i;
        while (i < len && !Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, i))) {
            i++;
        }
        found = i - start == k && slice_ieq(s, start, word, k);
    }
    Py_DECREF(s);
    return found;
}

/* ---------------------------------------------------------------- attributes */

typedef struct {
    const lxb_char_t *p;
    size_t n;
    int set; /* the attribute is present with a value */
} val_t;

static val_t
attr_value(lxb_dom_attr_t *attr)
{
    val_t v = {NULL, 0, 0};
    if (attr->value != NULL && attr->value->data != NULL) {
        v.p = attr->value->data;
        v.n = attr->value->length;
        v.set = 1;
    }
    return v;
}

static val_t
get_attr(lxb_dom_element_t *el, const char *name)
{
    val_t none = {NULL, 0, 0};
    for (lxb_dom_attr_t *a = el->first_attr; a != NULL; a = a->next) {
        size_t n = 0;
        const lxb_char_t *q = lxb_dom_attr_qualified_name(a, &n);
        if (name_is(q, n, name)) {
            return attr_value(a);
        }
    }
    return none;
}

static int
has_attr(lxb_dom_element_t *el, const char *name)
{
    for (lxb_dom_attr_t *a = el->first_attr; a != NULL; a = a->next) {
        size_t n = 0;
        const lxb_char_t *q = lxb_dom_attr_qualified_name(a, &n);
        if (name_is(q, n, name)) {
            return 1;
        }
    }
    return 0;
}

/* element.attributes as selectolax builds it: qualified name -> value or None */
static PyObject *
attr_dict(lxb_dom_element_t *el)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    for (lxb_dom_attr_t *a = el->first_attr; a != NULL; a = a->next) {
        size_t n = 0;
        const lxb_char_t *q = lxb_dom_attr_qualified_name(a, &n);
        val_t v = attr_value(a);
        PyObject *key = decode(q, n);
        PyObject *value = v.set ? decode(v.p, v.n) : Py_NewRef(Py_None);
        if (key == NULL || value == NULL || PyDict_SetItem(d, key, value) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    return d;
}

/* ---------------------------------------------------------------- subtree text */

static lxb_dom_node_t *
next_in(lxb_dom_node_t *node, lxb_dom_node_t *root)
{
    if (node->first_child != NULL) {
        return node->first_child;
    }
    while (node != root && node != NULL) {
        if (node->next != NULL) {
            return node->next;
        }
        node = node->parent;
    }
    return NULL;
}

/* node.text(separator=sep): every text node below root, joined with sep; decoded, or collapsed. */
static PyObject *
subtree_text(lxb_dom_node_t *root, const char *sep, int collapsed)
{
    buf_t b = {NULL, 0, 0};
    size_t seplen = strlen(sep);
    int count = 0;
    for (lxb_dom_node_t *n = root->first_child; n != NULL; n = next_in(n, root)) {
        if (n->type == LXB_DOM_NODE_TYPE_TEXT) {
            lexbor_str_t *s = &lxb_dom_interface_text(n)->char_data.data;
            if (s->data == NULL) {
                continue;
            }
            if ((count++ && buf_put(&b, sep, seplen) < 0) || buf_put(&b, s->data, s->length) < 0) {
                free(b.p);
                return NULL;
            }
        }
    }
    PyObject *r = collapsed ? collapse_utf8((const lxb_char_t *) b.p, b.n) : decode((const lxb_char_t *) b.p, b.n);
    free(b.p);
    return r;
}

/* ---------------------------------------------------------------- image sources */

static PyObject *LAZY_NAMES;   /* tuple of str: mella.collect.urls.LAZY_SRC, in rank order */
static PyObject *NORMALIZE;    /* unicodedata.normalize */
static PyObject *NFC;          /* "NFC" */
static PyObject *SRCSET_NAMES; /* tuple of str: mella.collect.urls.SRCSET_ATTRS */

/* The configured names as C strings (the tuples' UTF-8, which lives as long as the tuples), and
 * the bytes they start with: most attributes (class, width, style ...) are turned away on that. */
typedef struct {
    const char *name[32];
    size_t len[32];
    Py_ssize_t n;
    unsigned char first[256];
} names_t;

static names_t LAZY_C, SRCSET_C;

static int
names_set(names_t *out, PyObject *names)
{
    memset(out, 0, sizeof(*out));
    Py_ssize_t len = PyTuple_GET_SIZE(names);
    if (len > 32) {
        PyErr_SetString(PyExc_ValueError, "at most 32 names");
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_ssize_t k = 0;
        PyObject *item = PyTuple_GET_ITEM(names, i);
        const char *w = PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, &k) : NULL;
        if (w == NULL || k == 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "names must be non-empty str");
            }
            return -1;
        }
        out->name[i] = w;
        out->len[i] = (size_t) k;
        out->first[(unsigned char) w[0]] = 1;
    }
    out->n = len;
    return 0;
}

static inline int
name_in(const lxb_char_t *q, size_t n, const names_t *names)
{
    if (n == 0 || !names->first[q[0]]) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < names->n; i++) {
        if (names->len[i] == n && memcmp(q, names->name[i], n) == 0) {
            return (int) i;
        }
    }
    return -1;
}

static int
ascii_space(unsigned char c)
{
    return c == ' ' || (c >= 9 && c <= 13) || (c >= 28 && c <= 31);
}

/* ^\d+(\.\d+)?[wx]$ on ASCII; *value from Python's own float parser. Returns 'w', 'x' or 0. */
static int
descriptor(const char *p, size_t n, double *value)
{
    size_t i = 0;
    char tmp[64];
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
    }
    if (i == 0) {
        return 0;
    }
    if (i < n && p[i] == '.') {
        size_t j = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == j) {
            return 0;
        }
    }
    if (i + 1 != n || (p[i] != 'w' && p[i] != 'x')) {
        return 0;
    }
    char *num = i < sizeof(tmp) ? tmp : PyMem_Malloc(i + 1);
    if (num == NULL) {
        return 0;
    }
    memcpy(num, p, i);
    num[i] = 0;
    *value = PyOS_string_to_double(num, NULL, NULL);
    if (num != tmp) {
        PyMem_Free(num);
    }
    if (*value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return p[i];
}

/* urls._srcset_best on an ASCII srcset: the largest candidate (url slice, width, density). Candidates are split
   as urls.srcset_candidates splits them (the HTML standard's srcset parser): a URL is a run of non-space bytes
   and may hold commas; trailing commas end it without descriptors; else its descriptors run to the next comma
   outside parentheses. */
static int
srcset_best(const char *s, size_t n, size_t *url, size_t *url_len, double *width, double *density)
{
    int found = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && (ascii_space((unsigned char) s[i]) || s[i] == ',')) {
            i++;
        }
        if (i >= n) {
            return found;
        }
        size_t u = i;
        while (i < n && !ascii_space((unsigned char) s[i])) {
            i++;
        }
        size_t ul = i - u;
        double w = 0.0, d = 1.0;
        if (s[u + ul - 1] == ',') {
            while (ul > 0 && s[u + ul - 1] == ',') {
                ul--;
            }
        }
        else {
            /* descriptors: tokens split at spaces, up to a comma outside parentheses */
            size_t t = i; /* start of the current token; t == i: none */
            int parens = 0, done = 0;
            while (!done) {
                int end = i >= n;
                unsigned char c = end ? 0 : (unsigned char) s[i];
                if (!end && parens) {
                    parens = c != ')';
                    i++;
                    continue;
                }
                if (end || c == ',' || ascii_space(c)) {
                    if (i > t) {
                        double v = 0.0;
                        int kind = descriptor(s + t, i - t, &v);
                        if (kind == 'w') {
                            w = v;
                        }
                        else if (kind == 'x') {
                            d = v;
                        }
                    }
                    done = end || c == ',';
                    if (!end) {
                        i++;
                    }
                    t = i;
                    continue;
                }
                parens = c == '(';
                i++;
            }
        }
        if (!found || w > *width || (w == *width && d > *density)) {
            found = 1;
            *url = u;
            *url_len = ul;
            *width = w;
            *density = d;
        }
    }
}

/* urls.image_source for ASCII values: srcsets (picture sources first), then lazy, then src. */
static PyObject *
image_source_ascii(PyObject *srcsets, PyObject *lazy, PyObject *src)
{
    int found = 0;
    PyObject *best = NULL;
    size_t bu = 0, bl = 0;
    double bw = 0.0, bd = 0.0;
    Py_ssize_t k = PyList_GET_SIZE(srcsets);
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *v = PyList_GET_ITEM(srcsets, i);
        size_t u, l;
        double w = 0.0, d = 0.0;
        if (srcset_best((const char *) PyUnicode_1BYTE_DATA(v), (size_t) PyUnicode_GET_LENGTH(v),
                        &u, &l, &w, &d)
            && (!found || w > bw || (w == bw && d > bd))) {
            found = 1;
            best = v;
            bu = u;
            bl = l;
            bw = w;
            bd = d;
        }
    }
    if (found) {
        return PyUnicode_Substring(best, (Py_ssize_t) bu, (Py_ssize_t) (bu + bl));
    }
    if (lazy != NULL) {
        return Py_NewRef(lazy);
    }
    return strip(Py_NewRef(src));
}

/* ---------------------------------------------------------------- the walk */

typedef struct {
    PyObject *alt, *src, *title, *caption, *fallback;
    Py_ssize_t mark; /* byte offset in the text buffer, -1 when the image is not in the visible text */
    PyObject *href, *link_text; /* the enclosing link's href and text (collapsed), or NULL outside a link */
    int landmark;               /* index in LANDMARKS, -1 for none */
    long width, height;         /* declared size, -1 for none */
    Py_ssize_t index;           /* position among all the page's <img>s */
} image_t;

typedef struct {
    PyObject **items;
    Py_ssize_t n, cap;
} stack_t;

/* A growing array (`size`-byte items, n used, *cap allocated) with room for one more: `items` itself, or
 * its larger copy (`first` items the first time, doubling after; *cap updated); NULL with MemoryError set,
 * `items` then left as it was. */
static void *
grown(void *items, Py_ssize_t n, Py_ssize_t *cap, size_t size, Py_ssize_t first)
{
    if (n < *cap) {
        return items;
    }
    Py_ssize_t more = *cap ? *cap * 2 : first;
    void *p = realloc(items, (size_t) more * size);
    if (p == NULL) {
        return PyErr_NoMemory();
    }
    *cap = more;
    return p;
}

static int
push(stack_t *s, PyObject *item)
{
    PyObject **items = grown(s->items, s->n, &s->cap, sizeof(PyObject *), 8);
    if (items == NULL) {
        return -1;
    }
    s->items = items;
    s->items[s->n++] = item;
    return 0;
}

static void
pop(stack_t *s)
{
    if (s->n > 0) {
        s->n--;
        Py_XDECREF(s->items[s->n]);
    }
}

/* push() what a figure or picture gave: None is pushed as NULL (nothing found), NULL is an error. */
static int
push_found(stack_t *s, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    if (item == Py_None) {
        Py_DECREF(item);
        item = NULL;
    }
    return push(s, item);
}

/* the innermost non-NULL entry */
static PyObject *
innermost(stack_t *s)
{
    for (Py_ssize_t i = s->n - 1; i >= 0; i--) {
        if (s->items[i] != NULL) {
            return s->items[i];
        }
    }
    return NULL;
}

typedef struct {
    const unsigned char *p;
    size_t n;
} seg_t;

typedef struct {
    lxb_dom_node_t *text_root;
    int in_text, junk, want_text;
    seg_t *segs;      /* the visible text: its text nodes, in order, read where lexbor keeps them */
    Py_ssize_t n_segs, cap_segs;
    stack_t captions, pictures;
    image_t *images;
    Py_ssize_t n_images, cap_images, images_seen, n_alt, n_nosrc, n_data;
    PyObject *title, *base, *canonical, *og_locale, *og_url, *meta_language;
    lxb_dom_node_t *link;          /* the last link an image was found in, and its href and text: */
    PyObject *link_href, *link_text; /* images in one link share them */
    lxb_dom_attr_id_t role_id;     /* the attribute name "role" in this document's table; 0: no element has one */
    lxb_dom_node_t **links;        /* the links to other pages, in document order (their text is read */
    Py_ssize_t n_links, cap_links; /* after the walk, and only when the page has an image) */
} walk_t;

static void
set_once(PyObject **slot, val_t v)
{
    /* info[k] = info[k] or (value or ""): the first non-empty value wins. */
    if (*slot == NULL && v.set && v.n > 0) {
        *slot = decode(v.p, v.n);
        if (*slot == NULL) {
            PyErr_Clear();
        }
    }
}

/* Whether a text node is empty or ASCII whitespace only (indentation): not worth a segment. */
static inline int
blank(const lexbor_str_t *s)
{
    for (size_t i = 0; i < s->length; i++) {
        lxb_char_t c = s->data[i];
        if (c >= 0x80 || !ASCII_SPACE[c]) {
            return 0;
        }
    }
    return 1;
}

/* figure.css_first("figcaption").text(separator=" ") collapsed, or NULL without a figcaption */
static PyObject *
figure_caption(lxb_dom_node_t *figure)
{
    for (lxb_dom_node_t *n = figure->first_child; n != NULL; n = next_in(n, figure)) {
        if (n->type == LXB_DOM_NODE_TYPE_ELEMENT && n->local_name == LXB_TAG_FIGCAPTION) {
            return subtree_text(n, " ", 1);
        }
    }
    return Py_NewRef(Py_None);
}

/* the non-empty, non-data: srcset values of the <source srcset> below a <picture>, or None */
static PyObject *
picture_sources(lxb_dom_node_t *picture)
{
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (lxb_dom_node_t *n = picture->first_child; n != NULL; n = next_in(n, picture)) {
        if (n->type != LXB_DOM_NODE_TYPE_ELEMENT || n->local_name != LXB_TAG_SOURCE) {
            continue;
        }
        val_t v = get_attr(lxb_dom_interface_element(n), "srcset");
        if (!v.set || v.n == 0) {
            continue;
        }
        PyObject *s = decode(v.p, v.n);
        if (s == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        if (!is_data_uri(s) && PyList_Append(list, s) < 0) {
            Py_DECREF(s);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(s);
    }
    if (PyList_GET_SIZE(list) == 0) {
        Py_DECREF(list);
        return Py_NewRef(Py_None);
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

static Py_ssize_t
mark(walk_t *w)
{
    /* What the selectolax path's marker does: a break between text nodes, here the number of the
     * text node that comes next (the windows read a space between nodes: whitespace collapses, so
     * it does not matter which nodes are blank). */
    return w->want_text && w->in_text && !w->junk ? w->n_segs : -1;
}

/* ---------------------------------------------------------------- the structure around an image */

/*
 * mella.collect.structure: the landmark around an image, the link it sits in, its declared size. The
 * ancestors are read from the image up (parent pointers), so the walk itself stays one pass and
 * does nothing per element for these columns; the tests hold these functions to the Python rules.
 */

/* The landmarks, in the order of the codes below (LANDMARKS[i] is the row's value). */
static const char *LANDMARK_NAMES[] = {"header", "nav", "footer", "aside", "main", "article", "figure"};
#define N_LANDMARKS 7
static PyObject *LANDMARKS[N_LANDMARKS];
/* The ARIA roles that name them, in the same order. */
static const char *LANDMARK_ROLE_NAMES[] = {"banner", "navigation", "contentinfo", "complementary", "main",
                                            "article", "figure"};

/* The largest declared size kept (structure.MAX_DECLARED). */
#define MAX_DECLARED 100000L
/* link_text's length (structure.LINK_TEXT_CHARS). */
#define LINK_TEXT_CHARS 200

/* Whether bytes are empty or whitespace only, as str.isspace() sees it (value.strip() == ""). */
static int
all_space(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = ws_len(p + i, n - i);
        if (k == 0) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/*
 * structure.role_landmark: the landmark the first token of a role attribute names, or -1. Tokens are
 * split on str.split()'s whitespace; the comparison ignores ASCII case, which is .lower() here: the
 * one non-ASCII character that lowers to an ASCII letter (KELVIN SIGN -> k) is in none of the words.
 */
static int
role_landmark(const unsigned char *p, size_t n)
{
    size_t i = 0, k;
    while (i < n && (k = ws_len(p + i, n - i)) > 0) {
        i += k;
    }
    size_t start = i;
    while (i < n && ws_len(p + i, n - i) == 0) {
        i++;
    }
    for (int r = 0; r < N_LANDMARKS; r++) {
        if (ascii_ieq(p + start, i - start, LANDMARK_ROLE_NAMES[r])) {
            return r;
        }
    }
    return -1;
}

/* The landmark an element is: its role's when the role names one, else its tag's; -1 for none. The role
 * attribute is found by its name's id (get_attr's qualified-name test, without reading each name). */
static int
element_landmark(const walk_t *w, lxb_dom_element_t *el, uintptr_t tag)
{
    for (lxb_dom_attr_t *a = w->role_id ? el->first_attr : NULL; a != NULL; a = a->next) {
        if ((a->qualified_name ? a->qualified_name : a->node.local_name) == w->role_id) {
            val_t role = attr_value(a);
            int r = role.set ? role_landmark(role.p, role.n) : -1;
            if (r >= 0) {
                return r;
            }
            break; /* the first attribute of the name counts, as in get_attr */
        }
    }
    switch (tag) {
        case LXB_TAG_HEADER:
            return 0;
        case LXB_TAG_NAV:
            return 1;
        case LXB_TAG_FOOTER:
            return 2;
        case LXB_TAG_ASIDE:
            return 3;
        case LXB_TAG_MAIN:
            return 4;
        case LXB_TAG_ARTICLE:
            return 5;
        case LXB_TAG_FIGURE:
            return 6;
        default:
            return -1;
    }
}

/*
 * structure.declared_size on an attribute's bytes: value.strip() must be ASCII digits, optionally a
 * '.' and more digits (cut off), optionally "px" in any case; at most MAX_DECLARED. -1 for anything
 * else. Scanning forward with the whitespace of str.strip() on both sides is the same test: what is
 * between the whitespace holds none.
 */
static long
dimension(val_t v)
{
    if (!v.set) {
        return -1;
    }
    const unsigned char *p = v.p;
    size_t n = v.n, i = 0, k;
    while (i < n && (k = ws_len(p + i, n - i)) > 0) {
        i += k;
    }
    size_t start = i;
    long value = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (value <= MAX_DECLARED) { /* stops growing past the limit: no overflow however long */
            value = value * 10 + (p[i] - '0');
        }
        i++;
    }
    if (i == start) {
        return -1;
    }
    if (i < n && p[i] == '.') {
        size_t frac = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
        if (i == frac) {
            return -1;
        }
    }
    if (i + 1 < n && (p[i] | 0x20) == 'p' && (p[i + 1] | 0x20) == 'x') {
        i += 2;
    }
    while (i < n && (k = ws_len(p + i, n - i)) > 0) {
        i += k;
    }
    return i == n && value <= MAX_DECLARED ? value : -1;
}

/*
 * structure.enclosing: the nearest landmark ancestor, and the nearest <a> ancestor with a non-blank
 * href (its href and its text, collapsed as figcaption's is, kept for the next image in the same link).
 */
static int
enclosing(walk_t *w, lxb_dom_node_t *img_node, image_t *img)
{
    lxb_dom_node_t *link = NULL;
    val_t href = {NULL, 0, 0};
    img->landmark = -1;
    for (lxb_dom_node_t *n = img_node->parent; n != NULL && (img->landmark < 0 || link == NULL); n = n->parent) {
        if (n->type != LXB_DOM_NODE_TYPE_ELEMENT) {
            continue;
        }
        lxb_dom_element_t *el = lxb_dom_interface_element(n);
        if (img->landmark < 0) {
            img->landmark = element_landmark(w, el, n->local_name);
        }
        if (link == NULL && n->local_name == LXB_TAG_A) {
            val_t v = get_attr(el, "href");
            if (v.set && !all_space(v.p, v.n)) {
                link = n;
                href = v;
            }
        }
    }
    if (link == NULL) {
        return 0;
    }
    if (link != w->link) {
        PyObject *h = decode(href.p, href.n);
        PyObject *t = h ? subtree_text(link, " ", 1) : NULL;
        if (t == NULL) {
            Py_XDECREF(h);
            return -1;
        }
        Py_XSETREF(w->link_href, h);
        Py_XSETREF(w->link_text, t);
        w->link = link;
    }
    img->href = Py_NewRef(w->link_href);
    img->link_text = Py_NewRef(w->link_text);
    return 0;
}

static int
on_image(walk_t *w, lxb_dom_element_t *el)
{
    Py_ssize_t index = w->images_seen++;
    val_t alt = {NULL, 0, 0}, src = {NULL, 0, 0}, title = {NULL, 0, 0}, width = {NULL, 0, 0}, height = {NULL, 0, 0};
    int sourced = 0;
    for (lxb_dom_attr_t *a = el->first_attr; a != NULL; a = a->next) {
        size_t n = 0;
        const lxb_char_t *q = lxb_dom_attr_qualified_name(a, &n);
        if (q == NULL) {
            continue;
        }
        if (name_is(q, n, "alt")) {
            alt = attr_value(a);
        }
        else if (name_is(q, n, "src")) {
            src = attr_value(a);
        }
        else if (name_is(q, n, "title")) {
            title = attr_value(a);
        }
        else if (name_is(q, n, "width")) {
            width = attr_value(a);
        }
        else if (name_is(q, n, "height")) {
            height = attr_value(a);
        }
        else if (!sourced && (name_in(q, n, &SRCSET_C) >= 0 || name_in(q, n, &LAZY_C) >= 0)) {
            sourced = 1;
        }
    }
    if (!alt.set || alt.n == 0) {
        return 0;
    }
    image_t img = {.mark = -1, .landmark = -1, .width = -1, .height = -1, .index = index};
    img.alt = collapse_utf8(alt.p, alt.n);
    if (img.alt == NULL) {
        return -1;
    }
    if (PyUnicode_GET_LENGTH(img.alt) == 0) { /* alt.isspace() */
        Py_DECREF(img.alt);
        return 0;
    }
    PyObject *pic = innermost(&w->pictures);
    PyObject *src_str = decode(src.p, src.n);
    if (src_str == NULL) {
        goto fail;
    }
    if (pic == NULL && !sourced) {
        img.src = strip(src_str);
        src_str = NULL;
        if (img.src == NULL) {
            goto fail;
        }
    }
    else {
        /* srcsets (picture sources first) and the best-ranked lazy-load attribute */
        PyObject *srcsets = PyList_New(0);
        PyObject *lazy = NULL;
        Py_ssize_t rank = PY_SSIZE_T_MAX;
        int ascii = 1; /* srcset values only: the descriptors are parsed here */
        if (srcsets == NULL) {
            goto fail;
        }
        if (pic != NULL) {
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pic); i++) {
                PyObject *v = PyTuple_GET_ITEM(pic, i);
                ascii &= PyUnicode_IS_ASCII(v);
                if (PyList_Append(srcsets, v) < 0) {
                    Py_DECREF(srcsets);
                    goto fail;
                }
            }
        }
        for (lxb_dom_attr_t *a = el->first_attr; a != NULL; a = a->next) {
            size_t n = 0;
            const lxb_char_t *q = lxb_dom_attr_qualified_name(a, &n);
            if (q == NULL) {
                continue;
            }
            int is_srcset = name_in(q, n, &SRCSET_C) >= 0;
            int r = is_srcset ? -1 : name_in(q, n, &LAZY_C);
            if (!is_srcset && r < 0) {
                continue;
            }
            val_t v = attr_value(a);
            if (!v.set || v.n == 0) {
                continue;
            }
            PyObject *s = decode(v.p, v.n);
            if (s == NULL) {
                Py_DECREF(srcsets);
                Py_XDECREF(lazy);
                goto fail;
            }
            if (is_srcset) {
                ascii &= PyUnicode_IS_ASCII(s);
                if (!is_data_uri(s) && PyList_Append(srcsets, s) < 0) {
                    Py_DECREF(s);
                    Py_DECREF(srcsets);
                    Py_XDECREF(lazy);
                    goto fail;
                }
            }
            else if (r < rank && !is_data_uri(s)) {
                PyObject *t = strip(Py_NewRef(s));
                if (t != NULL && PyUnicode_GET_LENGTH(t) > 0) {
                    Py_XSETREF(lazy, Py_NewRef(s));
                    rank = r;
                }
                Py_XDECREF(t);
            }
            Py_DECREF(s);
        }
        if (ascii) {
            img.src = image_source_ascii(srcsets, lazy, src_str);
        }
        else {
            /* Unicode digits and whitespace in srcset descriptors: urls.image_source decides. */
            PyObject *attrs = attr_dict(el);
            img.fallback = attrs ? Py_BuildValue("(NN)", attrs, pic ? Py_NewRef(pic) : PyTuple_New(0)) : NULL;
            img.src = Py_NewRef(Py_None);
        }
        Py_DECREF(srcsets);
        Py_XDECREF(lazy);
        Py_DECREF(src_str);
        src_str = NULL;
        if (img.src == NULL || (!ascii && img.fallback == NULL)) {
            goto fail;
        }
    }
    w->n_alt++;
    if (img.fallback == NULL) { /* the same tests as the selectolax path, here where they are cheap */
        if (PyUnicode_GET_LENGTH(img.src) == 0) {
            w->n_nosrc++;
            goto skip;
        }
        if (is_data_uri(img.src)) {
            w->n_data++;
            goto skip;
        }
    }
    img.title = title.set && title.n ? collapse_utf8(title.p, title.n) : PyUnicode_FromStringAndSize("", 0);
    PyObject *caption = innermost(&w->captions);
    img.caption = caption ? Py_NewRef(caption) : PyUnicode_FromStringAndSize("", 0);
    if (img.title == NULL || img.caption == NULL) {
        goto fail;
    }
    img.mark = mark(w);
    img.width = dimension(width);
    img.height = dimension(height);
    if (enclosing(w, lxb_dom_interface_node(el), &img) < 0) {
        goto fail;
    }
    image_t *images = grown(w->images, w->n_images, &w->cap_images, sizeof(image_t), 32);
    if (images == NULL) {
        goto fail;
    }
    w->images = images;
    w->images[w->n_images++] = img;
    return 0;
skip:
    Py_XDECREF(img.alt);
    Py_XDECREF(img.src);
    return 0;
fail:
    Py_XDECREF(src_str);
    Py_XDECREF(img.alt);
    Py_XDECREF(img.src);
    Py_XDECREF(img.title);
    Py_XDECREF(img.caption);
    Py_XDECREF(img.fallback);
    Py_XDECREF(img.href);
    Py_XDECREF(img.link_text);
    return -1;
}

static void
on_head_element(walk_t *w, lxb_dom_element_t *el, uintptr_t tag)
{
    if (tag == LXB_TAG_BASE) {
        if (w->base == NULL && has_attr(el, "href")) {
            set_once(&w->base, get_attr(el, "href"));
        }
    }
    else if (tag == LXB_TAG_LINK) {
        if (w->canonical == NULL && has_attr(el, "rel") && has_attr(el, "href")) {
            val_t rel = get_attr(el, "rel");
            if (rel.set && has_token(rel.p, rel.n, "canonical")) {
                set_once(&w->canonical, get_attr(el, "href"));
            }
        }
    }
    else if (tag == LXB_TAG_META) {
        int has_prop = has_attr(el, "property"), has_equiv = has_attr(el, "http-equiv");
        if (!has_prop && !has_equiv) {
            return;
        }
        val_t prop = get_attr(el, "property");
        if (ascii_ieq(prop.p, prop.n, "og:locale")) {
            set_once(&w->og_locale, get_attr(el, "content"));
        }
        else if (ascii_ieq(prop.p, prop.n, "og:url")) {
            set_once(&w->og_url, get_attr(el, "content"));
        }
        else {
            val_t equiv = get_attr(el, "http-equiv");
            if (ascii_ieq(equiv.p, equiv.n, "content-language")) {
                set_once(&w->meta_language, get_attr(el, "content"));
            }
        }
    }
}

/* reference.away_link: an <a> whose href, stripped, is neither empty nor a fragment of this page ("#top"). */
static int
away_link(lxb_dom_element_t *el)
{
    val_t v = get_attr(el, "href");
    if (!v.set) {
        return 0;
    }
    size_t i = 0, k;
    while (i < v.n && (k = ws_len(v.p + i, v.n - i)) > 0) {
        i += k;
    }
    return i < v.n && v.p[i] != '#';
}

/* Keep a link for linked_images(): its text is read once the walk is done. */
static int
add_link(walk_t *w, lxb_dom_node_t *node)
{
    lxb_dom_node_t **links = grown(w->links, w->n_links, &w->cap_links, sizeof(lxb_dom_node_t *), 64);
    if (links == NULL) {
        return -1;
    }
    w->links = links;
    w->links[w->n_links++] = node;
    return 0;
}

static int
enter(walk_t *w, lxb_dom_node_t *node)
{
    if (node->type == LXB_DOM_NODE_TYPE_TEXT) {
        if (w->want_text && w->in_text && !w->junk) {
            lexbor_str_t *s = &lxb_dom_interface_text(node)->char_data.data;
            if (s->data != NULL && !blank(s)) {
                seg_t *segs = grown(w->segs, w->n_segs, &w->cap_segs, sizeof(seg_t), 256);
                if (segs == NULL) {
                    return -1;
                }
                w->segs = segs;
                w->segs[w->n_segs].p = s->data;
                w->segs[w->n_segs++].n = s->length;
            }
        }
        return 0;
    }
    if (node->type != LXB_DOM_NODE_TYPE_ELEMENT) {
        return 0;
    }
    if (node == w->text_root) {
        w->in_text = 1;
    }
    uintptr_t tag = node->local_name;
    lxb_dom_element_t *el = lxb_dom_interface_element(node);
    switch (tag) {
        case LXB_TAG_IMG:
            return on_image(w, el);
        case LXB_TAG_SCRIPT:
        case LXB_TAG_STYLE:
            w->junk++;
            return 0;
        case LXB_TAG_FIGURE:
            return push_found(&w->captions, figure_caption(node));
        case LXB_TAG_PICTURE:
            return push_found(&w->pictures, picture_sources(node));
        case LXB_TAG_TITLE:
            if (w->title == NULL) {
                w->title = subtree_text(node, "", 0);
                if (w->title == NULL) {
                    return -1;
                }
            }
            return 0;
        case LXB_TAG_BASE:
        case LXB_TAG_LINK:
        case LXB_TAG_META:
            on_head_element(w, el, tag);
            return 0;
        case LXB_TAG_A:
            return away_link(el) ? add_link(w, node) : 0;
        default:
            return 0;
    }
}

static void
leave(walk_t *w, lxb_dom_node_t *node)
{
    if (node->type != LXB_DOM_NODE_TYPE_ELEMENT) {
        return;
    }
    switch (node->local_name) {
        case LXB_TAG_SCRIPT:
        case LXB_TAG_STYLE:
            w->junk--;
            break;
        case LXB_TAG_FIGURE:
            pop(&w->captions);
            break;
        case LXB_TAG_PICTURE:
            pop(&w->pictures);
            break;
        default:
            break;
    }
    if (node == w->text_root) {
        w->in_text = 0;
    }
}

static int
walk(walk_t *w, lxb_dom_node_t *root)
{
    lxb_dom_node_t *node = root->first_child;
    while (node != NULL) {
        if (enter(w, node) < 0) {
            return -1;
        }
        if (node->first_child != NULL) {
            node = node->first_child;
            continue;
        }
        leave(w, node);
        while (node->next == NULL) {
            node = node->parent;
            if (node == NULL || node == root) {
                return 0;
            }
            leave(w, node);
        }
        node = node->next;
    }
    return 0;
}

/* ---------------------------------------------------------------- context windows */

/*
 * Characters that NFC leaves alone wherever they stand (combining class 0, NFC quick check Yes, never
 * the second half of a composition): text made only of these is already NFC, so normalize() is
 * skipped for it. tests/collect/test_native.py checks every one against unicodedata.
 */
static const Py_UCS4 NFC_SAFE_RANGES[][2] = {
    /* Runs of 16 or more such assigned characters in the BMP (Unicode 14, Python 3.11), found by the
     * same test that tests/collect/test_native.py makes of every one of them. */
    {0x0000, 0x02FF}, {0x038E, 0x03A1}, {0x03A3, 0x0482}, {0x0488, 0x052F}, {0x0531, 0x0556}, {0x0559, 0x058A},
    {0x05D0, 0x05EA}, {0x0600, 0x060F}, {0x061B, 0x064A}, {0x0660, 0x066F}, {0x0671, 0x06D5}, {0x06EE, 0x070D},
    {0x0712, 0x072F}, {0x074D, 0x07B1}, {0x07C0, 0x07EA}, {0x07FE, 0x0815}, {0x0840, 0x0858}, {0x0870, 0x088E},
    {0x08A0, 0x08C9}, {0x0900, 0x093B}, {0x093D, 0x094C}, {0x0960, 0x0983}, {0x0993, 0x09A8}, {0x09E6, 0x09FD},
    {0x0A13, 0x0A28}, {0x0A66, 0x0A76}, {0x0A93, 0x0AA8}, {0x0B13, 0x0B28}, {0x0B66, 0x0B77}, {0x0BE6, 0x0BFA},
    {0x0C12, 0x0C28}, {0x0C2A, 0x0C39}, {0x0C77, 0x0C8C}, {0x0C92, 0x0CA8}, {0x0D12, 0x0D3A}, {0x0D66, 0x0D7F},
    {0x0D85, 0x0D96}, {0x0D9A, 0x0DB1}, {0x0E01, 0x0E37}, {0x0E4C, 0x0E5B}, {0x0E8C, 0x0EA3}, {0x0EA7, 0x0EB7},
    {0x0F00, 0x0F17}, {0x0F1A, 0x0F34}, {0x1000, 0x102D}, {0x103B, 0x108C}, {0x108E, 0x10C5}, {0x10D0, 0x1248},
    {0x1260, 0x1288}, {0x1290, 0x12B0}, {0x12D8, 0x1310}, {0x1318, 0x135A}, {0x1360, 0x137C}, {0x1380, 0x1399},
    {0x13A0, 0x13F5}, {0x1400, 0x169C}, {0x16A0, 0x16F8}, {0x1700, 0x1713}, {0x171F, 0x1733}, {0x1740, 0x1753},
    {0x1780, 0x17D1}, {0x1800, 0x1819}, {0x1820, 0x1878}, {0x1880, 0x18A8}, {0x18B0, 0x18F5}, {0x1900, 0x191E},
    {0x1944, 0x196D}, {0x1980, 0x19AB}, {0x19B0, 0x19C9}, {0x19DE, 0x1A16}, {0x1A1E, 0x1A5E}, {0x1A61, 0x1A74},
    {0x1B00, 0x1B33}, {0x1B50, 0x1B6A}, {0x1B80, 0x1BA9}, {0x1BAC, 0x1BE5}, {0x1BFC, 0x1C36}, {0x1C4D, 0x1C88},
    {0x1C90, 0x1CBA}, {0x1D00, 0x1DBF}, {0x1E00, 0x1F15}, {0x1F20, 0x1F45}, {0x1F5F, 0x1F70}, {0x1F80, 0x1FB4},
    {0x2002, 0x2064}, {0x2074, 0x208E}, {0x20A0, 0x20C0}, {0x2100, 0x2125}, {0x212C, 0x218B}, {0x2190, 0x2328},
    {0x232B, 0x2426}, {0x2460, 0x2ADB}, {0x2ADD, 0x2B73}, {0x2B76, 0x2B95}, {0x2B97, 0x2BFF}, {0x3000, 0x3029},
    {0x3030, 0x303F}, {0x3041, 0x3096}, {0x309B, 0x30FF}, {0x3105, 0x312F}, {0x3131, 0x318E}, {0x3190, 0x31E3},
    {0x31F0, 0x321E}, {0x3220, 0x33FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xFE30, 0xFE52}, {0xFE54, 0xFE66},
    {0xFE76, 0xFEFC}, {0xFF01, 0xFFBE},
    {0xFFFD, 0xFFFD},
};
static unsigned char NFC_SAFE[0x10000 / 8];

static void
nfc_safe_init(void)
{
    for (size_t r = 0; r < sizeof(NFC_SAFE_RANGES) / sizeof(NFC_SAFE_RANGES[0]); r++) {
        for (Py_UCS4 c = NFC_SAFE_RANGES[r][0]; c <= NFC_SAFE_RANGES[r][1]; c++) {
            NFC_SAFE[c >> 3] |= (unsigned char) (1u << (c & 7));
        }
    }
}

/* Whether normalize("NFC", s) may differ from s. */
static int
nfc_needed(PyObject *s)
{
    int kind = PyUnicode_KIND(s);
    if (kind == PyUnicode_1BYTE_KIND) {
        return 0; /* all below U+0100 */
    }
    if (kind != PyUnicode_2BYTE_KIND) {
        return 1;
    }
    const Py_UCS2 *d = PyUnicode_2BYTE_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(NFC_SAFE[d[i] >> 3] & (1u << (d[i] & 7)))) {
            return 1;
        }
    }
    return 0;
}

/*
 * The window around an image, in one pass each way over the raw text, decoding as it goes: each
 * character is read the way CPython's UTF-8 decoder reads it with "replace", whitespace runs become
 * one space (only between words), and the scan stops at `half` characters. That is the selectolax
 * path's `before[-half:].lstrip() + " " + after[:half].rstrip()` over the collapsed text: a space
 * that would be the half-th character is the one strip removes.
 */

/* The character at p[i] (i < n): its length in bytes; *cp is U+FFFD for an invalid sequence (a lead
 * byte and the valid continuation bytes after it, or one stray byte), as CPython replaces them. */
static inline size_t
utf8_next(const unsigned char *p, size_t n, size_t i, Py_UCS4 *cp)
{
    unsigned char c = p[i], lo = 0x80, hi = 0xBF;
    size_t need;
    Py_UCS4 v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) { /* Cyrillic, Arabic ... */
        *cp = ((Py_UCS4) (c & 0x1F) << 6) | (p[i + 1] & 0x3F);
        return 2;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    }
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    }
    else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    }
    else {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t k = 1; k <= need; k++) {
        if (i + k >= n || p[i + k] < lo || p[i + k] > hi) {
            *cp = 0xFFFD;
            return k;
        }
        v = (v << 6) | (p[i + k] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

/* The character that ends at p[i - 1] (i > 0): its length in bytes. */
static inline size_t
utf8_prev(const unsigned char *p, size_t i, Py_UCS4 *cp)
{
    size_t s = i - 1;
    if (p[s] < 0x80) {
        *cp = p[s];
        return 1;
    }
    if (s > 0 && p[s - 1] >= 0xC2 && p[s - 1] <= 0xDF && (p[s] & 0xC0) == 0x80) { /* two bytes */
        *cp = ((Py_UCS4) (p[s - 1] & 0x1F) << 6) | (p[s] & 0x3F);
        return 2;
    }
    while (s > 0 && i - s < 4 && (p[s] & 0xC0) == 0x80) {
        s--;
    }
    size_t len = utf8_next(p, i, s, cp);
    if (s + len == i) {
        return len;
    }
    *cp = 0xFFFD; /* not one character: the byte alone */
    return 1;
}

static inline int
nfc_safe_char(Py_UCS4 c)
{
    return c < 0x100 || (c < 0x10000 && (NFC_SAFE[c >> 3] & (1u << (c & 7))));
}

typedef struct {
    Py_UCS4 *out;   /* code points */
    Py_ssize_t len;
    int nfc;        /* a character that NFC may change */
} chars_t;

/* Collapsed text before the text node numbered `mark`, backwards into w->out[cap - len .. cap). */
static void
window_before(const seg_t *segs, Py_ssize_t mark, Py_ssize_t half, chars_t *w, Py_ssize_t cap)
{
    Py_ssize_t count = 0, k = mark;
    int pending = 0, seen = 0;
    while (k > 0 && count < half) {
        const unsigned char *p = segs[--k].p;
        size_t i = segs[k].n;
        pending = seen; /* the space between two text nodes */
        while (i > 0 && count < half) {
            Py_UCS4 c;
            i -= utf8_prev(p, i, &c);
            if (c < 0xA0 && is_control(c)) {
                continue; /* removed, as if it were not there */
            }
            if (is_space(c)) {
                pending = seen;
                continue;
            }
            if (pending) {
                if (count + 1 >= half) {
                    w->len = count;
                    return;
                }
                w->out[cap - ++count] = ' ';
                pending = 0;
            }
            w->out[cap - ++count] = c;
            w->nfc |= !nfc_safe_char(c);
            seen = 1;
        }
    }
    w->len = count;
}

/* Collapsed text from the text node numbered `mark` on, into w->out[0 .. len). */
static void
window_after(const seg_t *segs, Py_ssize_t n_segs, Py_ssize_t mark, Py_ssize_t half, chars_t *w)
{
    Py_ssize_t count = 0;
    int pending = 0, seen = 0;
    for (Py_ssize_t k = mark; k < n_segs && count < half; k++) {
        const unsigned char *p = segs[k].p;
        size_t n = segs[k].n, i = 0;
        pending = seen;
        while (i < n && count < half) {
            Py_UCS4 c;
            i += utf8_next(p, n, i, &c);
            if (c < 0xA0 && is_control(c)) {
                continue;
            }
            if (is_space(c)) {
                pending = seen;
                continue;
            }
            if (pending) {
                if (count + 1 >= half) {
                    w->len = count;
                    return;
                }
                w->out[count++] = ' ';
                pending = 0;
            }
            w->out[count++] = c;
            w->nfc |= !nfc_safe_char(c);
            seen = 1;
        }
    }
    w->len = count;
}

static PyObject *
context(const walk_t *wk, Py_ssize_t mark, Py_ssize_t half)
{
    /* before | ' ' | after, in one buffer of code points */
    Py_ssize_t cap = half + 1;
    Py_UCS4 small[2 * 512 + 4];
    Py_UCS4 *buf = 2 * cap + 1 <= (Py_ssize_t) (sizeof(small) / sizeof(small[0]))
        ? small : PyMem_Malloc((size_t) (2 * cap + 1) * sizeof(Py_UCS4));
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    chars_t before = {buf, 0, 0};
    window_before(wk->segs, mark, half, &before, cap);
    chars_t after = {buf + cap + 1, 0, 0};
    window_after(wk->segs, wk->n_segs, mark, half, &after);
    Py_UCS4 *start = buf + cap - before.len;
    Py_ssize_t len = before.len;
    if (after.len) {
        if (before.len) {
            buf[cap] = ' ';
            len += 1 + after.len;
        }
        else {
            start = after.out;
            len = after.len;
        }
    }
    PyObject *r = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, start, len);
    if (buf != small) {
        PyMem_Free(buf);
    }
    if (r != NULL && (before.nfc || after.nfc) && NORMALIZE != NULL) {
        Py_SETREF(r, PyObject_CallFunctionObjArgs(NORMALIZE, NFC, r, NULL));
    }
    return r;
}

/* ---------------------------------------------------------------- documents */

/*
 * One parsed document is kept for the next page (taken and given back under the GIL, so threads
 * that parse at the same time each get their own): lexbor cleans a document for reuse (its memory
 * pools emptied to their first chunk, its name tables cleared, its parser reset), which spares the
 * 15 us of setting a new one up for every page; doc_take resets the compat mode, which clean keeps
 * (tests/collect/test_native.py parses pages after others and compares with fresh documents).
 * Same options as the selectolax path: no mutation events, no scripting.
 */
static lxb_html_document_t *SPARE_DOC;

static lxb_html_document_t *
doc_take(void)
{
    lxb_html_document_t *doc = SPARE_DOC;
    SPARE_DOC = NULL;
    if (doc != NULL) {
        /* The one thing lexbor's clean leaves from the last page: a page without a doctype puts the
         * document in quirks mode, and a standard doctype does not set it back (nor should it, on a
         * new document). Quirks mode changes the tree (a <table> does not close a <p>). */
        lxb_dom_interface_document(doc)->compat_mode = LXB_DOM_DOCUMENT_CMODE_NO_QUIRKS;
    }
    if (doc == NULL) {
        doc = lxb_html_document_create();
        if (doc == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        lxb_html_document_dom_opt_set(doc, LXB_DOM_DOCUMENT_OPT_WO_EVENTS);
        lxb_html_document_scripting_set(doc, false);
    }
    return doc;
}

static void
doc_give(lxb_html_document_t *doc)
{
    if (SPARE_DOC == NULL) {
        lxb_html_document_clean(doc);
        SPARE_DOC = doc;
    }
    else {
        lxb_html_document_destroy(doc);
    }
}

/* Parse UTF-8 bytes into a document (the GIL released meanwhile); NULL with an exception on failure. */
static lxb_html_document_t *
doc_parse(Py_buffer *data)
{
    lxb_html_document_t *doc = doc_take();
    if (doc == NULL) {
        return NULL;
    }
    lxb_status_t status;
    Py_BEGIN_ALLOW_THREADS
    status = lxb_html_document_parse(doc, (const lxb_char_t *) data->buf, (size_t) data->len);
    Py_END_ALLOW_THREADS
    if (status != LXB_STATUS_OK) {
        lxb_html_document_destroy(doc);
        PyErr_Format(PyExc_ValueError, "lexbor could not parse the page (status %d)", (int) status);
        return NULL;
    }
    return doc;
}

/* ---------------------------------------------------------------- module functions */

static void
walk_free(walk_t *w)
{
    free(w->segs);
    while (w->captions.n) {
        pop(&w->captions);
    }
    while (w->pictures.n) {
        pop(&w->pictures);
    }
    free(w->captions.items);
    free(w->pictures.items);
    for (Py_ssize_t i = 0; i < w->n_images; i++) {
        image_t *im = &w->images[i];
        Py_XDECREF(im->alt);
        Py_XDECREF(im->src);
        Py_XDECREF(im->title);
        Py_XDECREF(im->caption);
        Py_XDECREF(im->fallback);
        Py_XDECREF(im->href);
        Py_XDECREF(im->link_text);
    }
    free(w->images);
    free(w->links);
    Py_XDECREF(w->link_href);
    Py_XDECREF(w->link_text);
    Py_XDECREF(w->title);
    Py_XDECREF(w->base);
    Py_XDECREF(w->canonical);
    Py_XDECREF(w->og_locale);
    Py_XDECREF(w->og_url);
    Py_XDECREF(w->meta_language);
}

/* Whether clean() has more to do than collapse, cut and NFC: text holding '&' (double-escaped
 * entities) or a control character (removed). */
static int
needs_clean(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, d, i);
        if (c < 0xA0 && (c == '&' || is_control(c))) {
            return 1;
        }
    }
    return 0;
}

/*
 * mella.collect.html.clean's last steps (cut to `limit` characters, NFC) on collapsed text; steals s.
 * With `guard`, text that needs_clean() is left as it is: it may carry double-escaped entities, which
 * clean() decodes before it cuts, or control characters, which clean() removes; Python finishes it.
 */
static PyObject *
finish(PyObject *s, Py_ssize_t limit, int guard)
{
    if (s == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (guard && needs_clean(s)) {
        return s;
    }
    if (limit && n > limit) {
        Py_SETREF(s, PyUnicode_Substring(s, 0, limit));
        if (s == NULL) {
            return NULL;
        }
    }
    if (NORMALIZE == NULL || !nfc_needed(s)) {
        return s;
    }
    PyObject *r = PyObject_CallFunctionObjArgs(NORMALIZE, NFC, s, NULL);
    Py_DECREF(s);
    return r;
}

static PyObject *
or_empty(PyObject *s)
{
    return s ? Py_NewRef(s) : PyUnicode_FromStringAndSize("", 0);
}

/* A declared size as the row holds it: an int, or None. */
static PyObject *
size_or_none(long v)
{
    return v < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(v);
}

#define N_COLUMNS 12

/* One character of a words key (words_key's loop): appended to out[*m] (room for two), a space first when a
 * word break is pending. */
static inline void
key_char(Py_UCS4 c, Py_UCS4 *out, Py_ssize_t *m, int *gap)
{
    int dotted = c == 0x130;
    Py_UCS4 lc = dotted ? 'i' : Py_UNICODE_TOLOWER(c);
    if (lc == 0x3C2) {
        lc = 0x3C3;
    }
    if (Py_UNICODE_ISALNUM(lc) || lc == '_') {
        if (*gap && *m) {
            out[(*m)++] = ' ';
        }
        out[(*m)++] = lc;
        *gap = dotted;
    }
    else {
        *gap = 1;
    }
}

/*
 * reference.words_key of a str: its words (NFC first), lowercased one character at a time (Py_UNICODE_TOLOWER, the
 * simple mapping, as str.lower() is for every character but U+0130, which lowers to "i" and a combining
 * dot: "i" and a word break here), final sigma read as sigma; every run of characters that are not word
 * characters (Py_UNICODE_ISALNUM or "_", as re's \w) is one space, none at the ends.
 */
static PyObject *
words_key(PyObject *text)
{
    PyObject *s = NORMALIZE != NULL && nfc_needed(text) ? PyObject_CallFunctionObjArgs(NORMALIZE, NFC, text, NULL)
                                                         : Py_NewRef(text);
    if (s == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    Py_UCS4 small[256];
    Py_UCS4 *out = n * 2 <= (Py_ssize_t) (sizeof(small) / sizeof(small[0])) ? small
        : PyMem_Malloc((size_t) (n * 2 + 1) * sizeof(Py_UCS4));
    if (out == NULL) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    Py_ssize_t m = 0;
    int gap = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        key_char(PyUnicode_READ(kind, d, i), out, &m, &gap);
    }
    PyObject *r = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, m);
    if (out != small) {
        PyMem_Free(out);
    }
    Py_DECREF(s);
    return r;
}

typedef struct {
    uint64_t hash;
    Py_UCS4 *key;
    Py_ssize_t n, image; /* key length; index in walk.images */
} alt_key_t;

static uint64_t
key_hash(const Py_UCS4 *k, Py_ssize_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h = (h ^ k[i]) * 1099511628211ULL;
    }
    return h;
}

static int
alt_key_cmp(const void *a, const void *b)
{
    uint64_t x = ((const alt_key_t *) a)->hash, y = ((const alt_key_t *) b)->hash;
    return x < y ? -1 : x > y;
}

/*
 * The words key of a link's text (subtree_text(link, " ", 0) through words_key) into out, straight from the
 * UTF-8 of its text nodes: 1 with *m set; 0 when it grows past `most` characters (no alt's key is that long);
 * 2 when a character may change under NFC (words_key normalises first: the caller takes that path).
 */
static int
link_key(lxb_dom_node_t *link, Py_UCS4 *out, Py_ssize_t most, Py_ssize_t *m)
{
    int gap = 0;
    *m = 0;
    for (lxb_dom_node_t *n = link->first_child; n != NULL; n = next_in(n, link)) {
        if (n->type != LXB_DOM_NODE_TYPE_TEXT) {
            continue;
        }
        lexbor_str_t *str = &lxb_dom_interface_text(n)->char_data.data;
        if (str->data == NULL) {
            continue;
        }
        gap = 1; /* the separator between text nodes */
        const unsigned char *p = str->data;
        size_t len = str->length;
        for (size_t i = 0; i < len;) {
            Py_UCS4 c;
            i += utf8_next(p, len, i, &c);
            if (c >= 0x10000 || !(NFC_SAFE[c >> 3] & (1u << (c & 7)))) {
                return 2;
            }
            key_char(c, out, m, &gap);
            if (*m > most) {
                return 0;
            }
        }
    }
    return 1;
}

/* Mark found every alt key equal to k (sorted by hash). */
static void
find_key(const alt_key_t *keys, Py_ssize_t n, const Py_UCS4 *k, Py_ssize_t len, char *found)
{
    uint64_t h = key_hash(k, len);
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (keys[mid].hash < h) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    for (Py_ssize_t i = lo; i < n && keys[i].hash == h; i++) {
        if (keys[i].n == len && memcmp(keys[i].key, k, (size_t) len * sizeof(Py_UCS4)) == 0) {
            found[i] = 1;
        }
    }
}

/*
 * The image indexes of the kept images whose alt has the words of some link to another page
 * (reference.linked_images): the alts' keys sorted by hash, then each link's key made from its text nodes
 * and looked up; a link's key stops as soon as it is longer than every alt's. Links are read only when the
 * page has an image.
 */
static PyObject *
linked_images(const walk_t *w)
{
    PyObject *out = PySet_New(NULL);
    Py_ssize_t n = 0, most = 0;
    alt_key_t *keys = w->n_images ? PyMem_Calloc((size_t) w->n_images, sizeof(alt_key_t)) : NULL;
    char *found = w->n_images ? PyMem_Calloc((size_t) w->n_images, 1) : NULL;
    Py_UCS4 *buf = NULL;
    if (out == NULL || (w->n_images && (keys == NULL || found == NULL))) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < w->n_images; i++) {
        PyObject *k = words_key(w->images[i].alt);
        if (k == NULL) {
            goto fail;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(k);
        if (len) {
            keys[n].key = PyUnicode_AsUCS4Copy(k);
            if (keys[n].key == NULL) {
                Py_DECREF(k);
                goto fail;
            }
            keys[n].n = len;
            keys[n].hash = key_hash(keys[n].key, len);
            keys[n].image = i;
            most = len > most ? len : most;
            n++;
        }
        Py_DECREF(k);
    }
    if (n && w->n_links) {
        qsort(keys, (size_t) n, sizeof(alt_key_t), alt_key_cmp);
        buf = PyMem_Malloc((size_t) (most + 2) * sizeof(Py_UCS4));
        if (buf == NULL) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    for (Py_ssize_t t = 0; n && t < w->n_links; t++) {
        Py_ssize_t len;
        int r = link_key(w->links[t], buf, most, &len);
        if (r == 1) {
            find_key(keys, n, buf, len, found);
        }
        else if (r == 2) { /* the exact path: the text as a str, NFC, keyed */
            PyObject *text = subtree_text(w->links[t], " ", 0);
            PyObject *k = text ? words_key(text) : NULL;
            Py_XDECREF(text);
            Py_UCS4 *copy = k ? PyUnicode_AsUCS4Copy(k) : NULL;
            if (copy == NULL) {
                Py_XDECREF(k);
                goto fail;
            }
            find_key(keys, n, copy, PyUnicode_GET_LENGTH(k), found);
            PyMem_Free(copy);
            Py_DECREF(k);
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (found[i]) {
            PyObject *index = PyLong_FromSsize_t(w->images[keys[i].image].index);
            if (index == NULL || PySet_Add(out, index) < 0) {
                Py_XDECREF(index);
                goto fail;
            }
            Py_DECREF(index);
        }
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    for (Py_ssize_t i = 0; i < n; i++) {
        PyMem_Free(keys[i].key);
    }
    PyMem_Free(keys);
    PyMem_Free(found);
    PyMem_Free(buf);
    return out;
}

static PyObject *
words_key_py(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "words_key() takes a str");
        return NULL;
    }
    return words_key(arg);
}

PyDoc_STRVAR(words_key_doc,
"words_key(text: str) -> str\n\n"
"mella.collect.reference.words_key in C: the words of text, lowercased, one space between them.");

static PyObject *
build_result(walk_t *w, lxb_html_document_t *doc, Py_ssize_t context_chars)
{
    lxb_dom_element_t *root = lxb_dom_document_element(&doc->dom_document);
    PyObject *lang = NULL;
    if (root != NULL) {
        val_t v = get_attr(root, "lang");
        if (!v.set || v.n == 0) {
            v = get_attr(root, "xml:lang");
        }
        if (v.set && v.n) {
            lang = decode(v.p, v.n);
        }
    }
    /* Column lists rather than a tuple per image: fewer objects for the garbage collector to track.
     * alt, src, title, caption, context, fallback, then the structure: landmark, href, link text,
     * declared width, declared height, image index. */
    PyObject *cols[N_COLUMNS] = {NULL};
    for (int c = 0; c < N_COLUMNS; c++) {
        cols[c] = PyList_New(w->n_images);
        if (cols[c] == NULL) {
            goto fail;
        }
    }
    Py_ssize_t half = context_chars / 2 > 1 ? context_chars / 2 : 1;
    for (Py_ssize_t i = 0; i < w->n_images; i++) {
        image_t *im = &w->images[i];
        PyObject *ctx;
        if (context_chars <= 0) {
            ctx = PyUnicode_FromStringAndSize("", 0);
        }
        else if (im->mark < 0) {
            ctx = Py_NewRef(Py_None);
        }
        else {
            ctx = context(w, im->mark, half);
        }
        PyObject *v[N_COLUMNS] = {
            finish(Py_NewRef(im->alt), 0, 1),
            Py_NewRef(im->src),
            finish(Py_NewRef(im->title), 0, 1),
            finish(Py_NewRef(im->caption), 2000, 1),
            ctx, /* (a context is NFC already) */
            Py_NewRef(im->fallback ? im->fallback : Py_None),
            Py_NewRef(im->landmark >= 0 ? LANDMARKS[im->landmark] : Py_None),
            Py_NewRef(im->href ? im->href : Py_None),
            im->link_text ? finish(Py_NewRef(im->link_text), LINK_TEXT_CHARS, 1) : Py_NewRef(Py_None),
            size_or_none(im->width),
            size_or_none(im->height),
            PyLong_FromSsize_t(im->index),
        };
        int failed = 0;
        for (int c = 0; c < N_COLUMNS; c++) {
            failed |= v[c] == NULL;
        }
        if (failed) {
            for (int c = 0; c < N_COLUMNS; c++) {
                Py_XDECREF(v[c]);
            }
            goto fail;
        }
        for (int c = 0; c < N_COLUMNS; c++) {
            PyList_SET_ITEM(cols[c], i, v[c]);
        }
    }
    PyObject *images = PyTuple_New(N_COLUMNS);
    if (images == NULL) {
        goto fail;
    }
    for (int c = 0; c < N_COLUMNS; c++) {
        PyTuple_SET_ITEM(images, c, cols[c]);
    }
    PyObject *info = Py_BuildValue("(NNNNNNN)", or_empty(w->title), or_empty(w->base), lang ? lang : or_empty(NULL),
                                   or_empty(w->og_locale), or_empty(w->canonical), or_empty(w->og_url),
                                   or_empty(w->meta_language));
    if (info == NULL) {
        Py_DECREF(images);
        return NULL;
    }
    PyObject *linked = linked_images(w);
    if (linked == NULL) {
        Py_DECREF(images);
        Py_DECREF(info);
        return NULL;
    }
    return Py_BuildValue("(N(nnnn)NN)", info, w->images_seen, w->n_alt, w->n_nosrc, w->n_data, images, linked);
fail:
    for (int c = 0; c < N_COLUMNS; c++) {
        Py_XDECREF(cols[c]); /* items not yet set are NULL: list_dealloc skips them */
    }
    Py_XDECREF(lang);
    return NULL;
}

PyDoc_STRVAR(extract_doc,
"extract(html: bytes, context_chars: int) -> (info, (images_seen, with_alt, no_src, data_uri), images, linked)\n\n"
"Parse UTF-8 ``html`` with lexbor and walk the tree once. ``info`` is (title, base href, html lang,\n"
"og:locale, canonical href, og:url, Content-Language meta), raw. ``images`` is twelve lists (columns)\n"
"with one entry per <img> with a non-blank alt and a source that is not a data: URI, in document\n"
"order: alt, source, title, figcaption, context, fallback, landmark, link href, link text, declared\n"
"width, declared height, image index. Text is collapsed and NFC (figcaption cut to 2000 characters,\n"
"link text to 200), but text with '&' or a control character is only collapsed; context is the\n"
"window of visible text, control characters left out\n"
"(None when the image is outside it); fallback is (attributes, picture srcsets) when the source\n"
"needs mella.collect.urls.image_source (non-ASCII srcsets), else None. Landmark, link href and link\n"
"text are None where there is none, the href raw; a declared size is an int or None. ``linked`` is the\n"
"set of the image indexes whose alt has the words of a link to another page (alt_is_link_text).");

static PyObject *
extract(PyObject *self, PyObject *args)
{
    Py_buffer data;
    Py_ssize_t context_chars = 300;
    if (!PyArg_ParseTuple(args, "y*|n", &data, &context_chars)) {
        return NULL;
    }
    lxb_html_document_t *doc = doc_parse(&data);
    PyBuffer_Release(&data);
    if (doc == NULL) {
        return NULL;
    }
    walk_t w;
    memset(&w, 0, sizeof(w));
    w.want_text = context_chars > 0;
    const lxb_dom_attr_data_t *role = lxb_dom_attr_data_by_local_name(doc->dom_document.attrs,
                                                                      (const lxb_char_t *) "role", 4);
    w.role_id = role != NULL ? role->attr_id : 0;
    lxb_html_body_element_t *body = lxb_html_document_body_element(doc);
    w.text_root = body != NULL ? lxb_dom_interface_node(body)
                               : lxb_dom_interface_node(lxb_dom_document_element(&doc->dom_document));
    PyObject *result = NULL;
    if (walk(&w, lxb_dom_interface_node(doc)) == 0) {
        result = build_result(&w, doc, context_chars);
    }
    walk_free(&w);
    doc_give(doc);
    return result;
}

/* ---------------------------------------------------------------- rows */

static int
has_char(PyObject *s, Py_UCS4 c)
{
    return PyUnicode_FindChar(s, c, 0, PyUnicode_GET_LENGTH(s), 1) >= 0;
}

static int
starts(PyObject *s, const char *prefix)
{
    Py_ssize_t k = (Py_ssize_t) strlen(prefix);
    if (PyUnicode_GET_LENGTH(s) < k) {
        return 0;
    }
    int kind = PyUnicode_KIND(s);
    const void *d = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < k; i++) {
        if (PyUnicode_READ(kind, d, i) != (Py_UCS4) (unsigned char) prefix[i]) {
            return 0;
        }
    }
    return 1;
}

/*
 * urls.Resolver.__call__: the shapes of address that are a concatenation, here; the rest through
 * `resolve` (the Resolver itself, which calls urljoin). parts: (scheme, origin, directory) or None.
 */
static PyObject *
resolve_url(PyObject *value, PyObject *parts, PyObject *resolve)
{
    PyObject *v = strip(Py_NewRef(value));
    if (v == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    int controls = has_char(v, '\n') || has_char(v, '\t');
    if (!controls && (starts(v, "http://") || starts(v, "https://"))) {
        return v;
    }
    if (parts != Py_None && !controls && n > 0) {
        Py_UCS4 c0 = PyUnicode_READ_CHAR(v, 0);
        static PyObject *dot = NULL;
        if (dot == NULL && (dot = PyUnicode_InternFromString("/.")) == NULL) {
            Py_DECREF(v);
            return NULL;
        }
        Py_ssize_t has_dot = PyUnicode_Find(v, dot, 0, n, 1);
        if (has_dot == -2) {
            Py_DECREF(v);
            return NULL;
        }
        if (has_dot < 0 && c0 != '.') {
            PyObject *r = NULL;
            if (c0 == '/') {
                if (n > 1 && PyUnicode_READ_CHAR(v, 1) == '/') {
                    r = PyUnicode_FromFormat("%U:%U", PyTuple_GET_ITEM(parts, 0), v);
                }
                else {
                    r = PyUnicode_Concat(PyTuple_GET_ITEM(parts, 1), v);
                }
                Py_DECREF(v);
                return r;
            }
            if (c0 != '?' && c0 != '#' && c0 != '\r') {
                /* ":" not in value.split("/", 1)[0] */
                Py_ssize_t slash = PyUnicode_FindChar(v, '/', 0, n, 1);
                Py_ssize_t colon = PyUnicode_FindChar(v, ':', 0, slash < 0 ? n : slash, 1);
                if (colon == -1) {
                    r = PyUnicode_Concat(PyTuple_GET_ITEM(parts, 2), v);
                    Py_DECREF(v);
                    return r;
                }
            }
        }
    }
    Py_DECREF(v);
    return PyObject_CallOneArg(resolve, value);
}

PyDoc_STRVAR(rows_doc,
"rows(page, parts, resolve, clean, domain_of, columns) -> (rows, bad_urls)\n\n"
"The CANDIDATES rows of one page from extract()'s columns (all but fallback: alt, src, title, caption,\n"
"context, landmark, href, link text, width, height, index): a copy of ``page`` per image with a\n"
"usable address (http, https, file) and its image_url, alt, img_title, figcaption, context and the\n"
"structure columns. Addresses (image and link) resolve as urls.Resolver does (``parts``: its (scheme,\n"
"origin, directory), or None; ``resolve``: the Resolver, for what is not a plain concatenation); a\n"
"link that resolves to http(s) gets link_url and link_scope (same_site when its registered domain,\n"
"``domain_of(url)``, asked once per plain host, is page['domain'] and not empty);\n"
"text holding '&' or a control character goes through ``clean``; one context of None (an image\n"
"outside the visible text) blanks every context.");

static PyObject *K_IMAGE_URL, *K_ALT, *K_IMG_TITLE, *K_FIGCAPTION, *K_CONTEXT, *S_EMPTY;
static PyObject *K_DOMAIN, *K_LANDMARK, *K_LINK_URL, *K_LINK_SCOPE, *K_LINK_TEXT, *K_WIDTH, *K_HEIGHT, *K_INDEX;
static PyObject *S_SAME_SITE, *S_OTHER_SITE;

static int
row_keys(void)
{
    if (K_IMAGE_URL != NULL) {
        return 0;
    }
    struct {
        PyObject **slot;
        const char *text;
    } keys[] = {
        {&K_ALT, "alt"}, {&K_IMG_TITLE, "img_title"}, {&K_FIGCAPTION, "figcaption"}, {&K_CONTEXT, "context"},
        {&K_DOMAIN, "domain"}, {&K_LANDMARK, "landmark"}, {&K_LINK_URL, "link_url"},
        {&K_LINK_SCOPE, "link_scope"}, {&K_LINK_TEXT, "link_text"}, {&K_WIDTH, "declared_width"},
        {&K_HEIGHT, "declared_height"}, {&K_INDEX, "image_index"}, {&S_SAME_SITE, "same_site"},
        {&S_OTHER_SITE, "other_site"}, {&S_EMPTY, ""},
        {&K_IMAGE_URL, "image_url"}, /* last: set means all are */
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (*keys[i].slot == NULL && (*keys[i].slot = PyUnicode_InternFromString(keys[i].text)) == NULL) {
            return -1;
        }
    }
    return 0;
}

/*
 * Registered domains by host, for link_scope: registered_domain(url) is _host_domain(urlsplit(url).hostname),
 * which for an authority made only of a plain host name (ASCII letters, digits, '.', '-') and perhaps a
 * ":digits" port depends on nothing but that host in lower case. Such URLs look their host up here and ask
 * domain_of (urls.registered_domain) once per host; every other URL asks it each time. The cache belongs to
 * one domain_of and is emptied when it grows past HOST_CACHE_MAX hosts.
 */
#define HOST_CACHE_MAX 65536
static PyObject *HOST_DOMAINS, *HOST_DOMAINS_OF;

/* The lower-cased plain host of an http(s) URL (its scheme checked by the caller), or NULL (no exception)
 * when the authority is anything else: userinfo, IPv6 brackets, percent-escapes, non-ASCII, empty. */
static PyObject *
plain_host(PyObject *url)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(url);
    int kind = PyUnicode_KIND(url);
    const void *d = PyUnicode_DATA(url);
    Py_ssize_t i = PyUnicode_READ(kind, d, 4) == ':' ? 7 : 8; /* after "http://" or "https://" */
    char host[256];
    Py_ssize_t len = 0;
    for (; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, d, i);
        if (c == '/' || c == '?' || c == '#' || c == ':') {
            break;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')
            || len == (Py_ssize_t) sizeof(host)) {
            return NULL;
        }
        host[len++] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    if (len == 0) {
        return NULL;
    }
    if (i < n && PyUnicode_READ(kind, d, i) == ':') { /* a port: digits up to the end of the authority */
        for (i++; i < n; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, d, i);
            if (c == '/' || c == '?' || c == '#') {
                break;
            }
            if (c < '0' || c > '9') {
                return NULL;
            }
        }
    }
    return PyUnicode_FromStringAndSize(host, len);
}

/* registered_domain(url) through domain_of, by host where the host is plain; NULL with an exception. */
static PyObject *
link_domain(PyObject *url, PyObject *domain_of)
{
    PyObject *host = plain_host(url);
    if (host == NULL) {
        return PyErr_Occurred() ? NULL : PyObject_CallOneArg(domain_of, url);
    }
    if (HOST_DOMAINS == NULL || HOST_DOMAINS_OF != domain_of || PyDict_GET_SIZE(HOST_DOMAINS) >= HOST_CACHE_MAX) {
        Py_XSETREF(HOST_DOMAINS, PyDict_New());
        Py_XSETREF(HOST_DOMAINS_OF, Py_NewRef(domain_of));
        if (HOST_DOMAINS == NULL) {
            Py_DECREF(host);
            return NULL;
        }
    }
    PyObject *domain = PyDict_GetItemWithError(HOST_DOMAINS, host); /* borrowed */
    if (domain != NULL) {
        Py_DECREF(host);
        return Py_NewRef(domain);
    }
    if (PyErr_Occurred()) {
        Py_DECREF(host);
        return NULL;
    }
    domain = PyObject_CallOneArg(domain_of, url);
    if (domain != NULL && PyDict_SetItem(HOST_DOMAINS, host, domain) < 0) {
        Py_CLEAR(domain);
    }
    Py_DECREF(host);
    return domain;
}

/*
 * Whether an href has a scheme other than http(s), as urlsplit reads one (after strip(): an ASCII letter,
 * then letters, digits, '+', '-', '.', up to a ':'): mailto:, javascript:, tel:, data:. Such an href
 * resolves to itself (urljoin keeps a reference whose scheme is not the base's), or, on a base of that
 * same scheme, to another address of it: never to http(s), so no link_url, without asking the Resolver.
 * 0 for anything else, and for what this test does not settle (a tab inside the scheme, a control first).
 */
static int
non_web_scheme(PyObject *href)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(href), i = 0;
    int kind = PyUnicode_KIND(href);
    const void *d = PyUnicode_DATA(href);
    while (i < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, i))) {
        i++;
    }
    Py_ssize_t start = i;
    for (; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, d, i);
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (c == ':' && i > start) {
            return !((i - start == 4 && slice_ieq(href, start, "http", 4))
                     || (i - start == 5 && slice_ieq(href, start, "https", 5)));
        }
        if (!letter && (i == start || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))) {
            return 0;
        }
    }
    return 0;
}

/*
 * structure.link_target: link_url and link_scope of an image's link, set on the row (left None when the
 * href does not resolve to http(s)). Returns -1 with an exception.
 */
static int
set_link(PyObject *row, PyObject *href, PyObject *parts, PyObject *resolve, PyObject *domain_of,
         PyObject *page_domain)
{
    if (non_web_scheme(href)) {
        return 0;
    }
    PyObject *url = resolve_url(href, parts, resolve);
    if (url == NULL) {
        return -1;
    }
    /* any case: url[:8].lower().startswith(("http://", "https://")) */
    if (!PyUnicode_Check(url) || !(slice_ieq(url, 0, "http://", 7) || slice_ieq(url, 0, "https://", 8))) {
        Py_DECREF(url);
        return 0;
    }
    PyObject *domain = link_domain(url, domain_of);
    if (domain == NULL) {
        Py_DECREF(url);
        return -1;
    }
    int same = PyUnicode_Check(domain) && PyUnicode_GET_LENGTH(domain) > 0 && page_domain != NULL
        ? PyObject_RichCompareBool(domain, page_domain, Py_EQ) : 0;
    Py_DECREF(domain);
    if (same < 0 || PyDict_SetItem(row, K_LINK_URL, url) < 0
        || PyDict_SetItem(row, K_LINK_SCOPE, same ? S_SAME_SITE : S_OTHER_SITE) < 0) {
        Py_DECREF(url);
        return -1;
    }
    Py_DECREF(url);
    return 0;
}

/* The row's text columns (alt, img_title, figcaption, link_text), through clean() where C left work. */
static int
set_texts(PyObject *row, PyObject *clean, PyObject *const *cols, Py_ssize_t i)
{
    PyObject *keys[4] = {K_ALT, K_IMG_TITLE, K_FIGCAPTION, K_LINK_TEXT};
    Py_ssize_t limits[4] = {0, 0, 2000, LINK_TEXT_CHARS};
    for (int k = 0; k < 4; k++) {
        PyObject *text = PyList_GET_ITEM(cols[k], i);
        if (text == Py_None) {
            continue; /* link_text outside a link: the page's None stays */
        }
        PyObject *value = PyUnicode_Check(text) && needs_clean(text)
            ? (limits[k] ? PyObject_CallFunction(clean, "On", text, limits[k]) : PyObject_CallOneArg(clean, text))
            : Py_NewRef(text);
        if (value == NULL || PyDict_SetItem(row, keys[k], value) < 0) {
            Py_XDECREF(value);
            return -1;
        }
        Py_DECREF(value);
    }
    return 0;
}

enum { C_ALT, C_SRC, C_TITLE, C_CAPTION, C_CONTEXT, C_LANDMARK, C_HREF, C_LINK_TEXT, C_WIDTH, C_HEIGHT, C_INDEX,
       N_ROW_COLUMNS };

static PyObject *
rows(PyObject *self, PyObject *args)
{
    PyObject *page, *parts, *resolve, *clean, *domain_of, *columns;
    if (!PyArg_ParseTuple(args, "O!OOOOO!", &PyDict_Type, &page, &parts, &resolve, &clean, &domain_of,
                          &PyTuple_Type, &columns)) {
        return NULL;
    }
    if (parts != Py_None && (!PyTuple_Check(parts) || PyTuple_GET_SIZE(parts) != 3)) {
        PyErr_SetString(PyExc_TypeError, "parts must be (scheme, origin, directory) or None");
        return NULL;
    }
    if (PyTuple_GET_SIZE(columns) != N_ROW_COLUMNS) {
        PyErr_Format(PyExc_TypeError, "columns must be a tuple of %d lists", N_ROW_COLUMNS);
        return NULL;
    }
    PyObject *cols[N_ROW_COLUMNS];
    Py_ssize_t n = 0;
    for (int c = 0; c < N_ROW_COLUMNS; c++) {
        cols[c] = PyTuple_GET_ITEM(columns, c);
        if (!PyList_Check(cols[c])) {
            PyErr_Format(PyExc_TypeError, "columns must be a tuple of %d lists", N_ROW_COLUMNS);
            return NULL;
        }
        if (c == 0) {
            n = PyList_GET_SIZE(cols[c]);
        }
        else if (PyList_GET_SIZE(cols[c]) != n) {
            PyErr_SetString(PyExc_ValueError, "columns of different lengths");
            return NULL;
        }
    }
    if (row_keys() < 0) {
        return NULL;
    }
    PyObject *page_domain = PyDict_GetItemWithError(page, K_DOMAIN); /* borrowed; NULL: no same_site */
    if (page_domain == NULL && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    Py_ssize_t bad = 0;
    int blank = 0;
    PyObject *const texts[4] = {cols[C_ALT], cols[C_TITLE], cols[C_CAPTION], cols[C_LINK_TEXT]};
    PyObject *const keys[4] = {K_LANDMARK, K_WIDTH, K_HEIGHT, K_INDEX};
    PyObject *const values[4] = {cols[C_LANDMARK], cols[C_WIDTH], cols[C_HEIGHT], cols[C_INDEX]};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *src = PyList_GET_ITEM(cols[C_SRC], i);
        if (!PyUnicode_Check(src)) {
            PyErr_SetString(PyExc_TypeError, "image sources must be str");
            goto fail;
        }
        PyObject *url = resolve_url(src, parts, resolve);
        if (url == NULL) {
            goto fail;
        }
        if (!PyUnicode_Check(url)
            || !(starts(url, "http://") || starts(url, "https://") || starts(url, "file://"))) {
            Py_DECREF(url);
            bad++;
            continue;
        }
        PyObject *row = PyDict_Copy(page);
        if (row == NULL || PyDict_SetItem(row, K_IMAGE_URL, url) < 0) {
            Py_XDECREF(row);
            Py_DECREF(url);
            goto fail;
        }
        Py_DECREF(url);
        if (set_texts(row, clean, texts, i) < 0) {
            Py_DECREF(row);
            goto fail;
        }
        PyObject *ctx = PyList_GET_ITEM(cols[C_CONTEXT], i);
        if (ctx == Py_None) {
            blank = 1;
            ctx = S_EMPTY;
        }
        if (PyDict_SetItem(row, K_CONTEXT, ctx) < 0) {
            Py_DECREF(row);
            goto fail;
        }
        for (int k = 0; k < 4; k++) { /* None is what the page's copy holds already */
            PyObject *value = PyList_GET_ITEM(values[k], i);
            if (value != Py_None && PyDict_SetItem(row, keys[k], value) < 0) {
                Py_DECREF(row);
                goto fail;
            }
        }
        PyObject *href = PyList_GET_ITEM(cols[C_HREF], i);
        if (href != Py_None) {
            if (!PyUnicode_Check(href)) {
                PyErr_SetString(PyExc_TypeError, "link hrefs must be str or None");
                Py_DECREF(row);
                goto fail;
            }
            if (set_link(row, href, parts, resolve, domain_of, page_domain) < 0) {
                Py_DECREF(row);
                goto fail;
            }
        }
        if (PyList_Append(out, row) < 0) {
            Py_DECREF(row);
            goto fail;
        }
        Py_DECREF(row);
    }
    if (blank) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(out); i++) {
            if (PyDict_SetItem(PyList_GET_ITEM(out, i), K_CONTEXT, S_EMPTY) < 0) {
                goto fail;
            }
        }
    }
    return Py_BuildValue("(Nn)", out, bad);
fail:
    Py_DECREF(out);
    return NULL;
}

PyDoc_STRVAR(parse_doc,
"parse(html: bytes) -> None\n\n"
"Parse, nothing else (the document is kept for the next page, as extract() does): the floor of\n"
"extract() in this build of lexbor (bench/collect.py).");

static PyObject *
parse(PyObject *self, PyObject *arg)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    lxb_html_document_t *doc = doc_parse(&data);
    PyBuffer_Release(&data);
    if (doc == NULL) {
        return NULL;
    }
    doc_give(doc);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(configure_doc,
"configure(lazy_names: tuple[str, ...], srcset_names: tuple[str, ...], normalize) -> None\n\n"
"The lazy-load attributes (in rank order) and srcset attributes of mella.collect.urls, and\n"
"unicodedata.normalize.");

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *lazy, *srcset, *normalize;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyTuple_Type, &lazy, &PyTuple_Type, &srcset, &normalize)) {
        return NULL;
    }
    if (NFC == NULL && (NFC = PyUnicode_InternFromString("NFC")) == NULL) {
        return NULL;
    }
    Py_XSETREF(NORMALIZE, Py_NewRef(normalize));
    Py_XSETREF(LAZY_NAMES, Py_NewRef(lazy));
    Py_XSETREF(SRCSET_NAMES, Py_NewRef(srcset));
    if (names_set(&LAZY_C, LAZY_NAMES) < 0 || names_set(&SRCSET_C, SRCSET_NAMES) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(collapse_doc, "collapse(text: str) -> str\n\n\" \".join(text.split()), in C (for tests).");

static PyObject *
collapse_py(PyObject *self, PyObject *arg)
{
    Py_ssize_t n = 0;
    const char *p = PyUnicode_Check(arg) ? PyUnicode_AsUTF8AndSize(arg, &n) : NULL;
    if (p == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "collapse() takes a str");
        }
        return NULL;
    }
    return collapse_utf8((const lxb_char_t *) p, (size_t) n);
}

PyDoc_STRVAR(tag_counts_doc,
"tag_counts(data: bytes) -> (int, int)\n\n"
"(data.count(b'<'), data.count(b'</')), in one vectorised pass (the nesting guard's bound).");

static PyObject *
tag_counts(PyObject *self, PyObject *arg)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const unsigned char *p = data.buf;
    size_t n = (size_t) data.len;
    Py_ssize_t opens = 0, closes = 0;
    Py_BEGIN_ALLOW_THREADS
    /* Branch-free byte counts in blocks of 255 (one byte a lane: the compiler vectorises them). */
    if (n > 0) {
        for (size_t i = 0; i < n - 1;) {
            size_t stop = n - 1 - i > 255 ? i + 255 : n - 1;
            unsigned char o = 0, c = 0;
            for (size_t j = i; j < stop; j++) {
                unsigned char lt = p[j] == '<';
                o += lt;
                c += lt & (p[j + 1] == '/');
            }
            opens += o;
            closes += c;
            i = stop;
        }
        opens += p[n - 1] == '<';
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return Py_BuildValue("(nn)", opens, closes);
}

static PyMethodDef methods[] = {
    {"charmap_utf8", mella_charmap_utf8, METH_VARARGS, mella_charmap_utf8_doc},
    {"control_bytes", mella_control_bytes, METH_VARARGS, mella_control_bytes_doc},
    {"parse", parse, METH_O, parse_doc},
    {"rows", rows, METH_VARARGS, rows_doc},
    {"utf8_counts", mella_utf8_counts, METH_O, mella_utf8_counts_doc},
    {"mostly_utf8", mella_mostly_utf8, METH_VARARGS, mella_mostly_utf8_doc},
    {"tag_counts", tag_counts, METH_O, tag_counts_doc},
    {"extract", extract, METH_VARARGS, extract_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {"collapse", collapse_py, METH_O, collapse_doc},
    {"words_key", words_key_py, METH_O, words_key_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "mella.collect._native",
    "Image + alt-text extraction in one C walk of lexbor's tree (see mella.collect.html).", -1, methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    nfc_safe_init();
    for (int i = 0; i < N_LANDMARKS; i++) {
        if (LANDMARKS[i] == NULL && (LANDMARKS[i] = PyUnicode_InternFromString(LANDMARK_NAMES[i])) == NULL) {
            return NULL;
        }
    }
    PyObject *m = PyModule_Create(&module);
    if (m != NULL) {
        PyObject *ranges = PyList_New(0);
        for (size_t r = 0; ranges && r < sizeof(NFC_SAFE_RANGES) / sizeof(NFC_SAFE_RANGES[0]); r++) {
            PyObject *pair = Py_BuildValue("(kk)", (unsigned long) NFC_SAFE_RANGES[r][0],
                                           (unsigned long) NFC_SAFE_RANGES[r][1]);
            if (pair == NULL || PyList_Append(ranges, pair) < 0) {
                Py_XDECREF(pair);
                Py_CLEAR(ranges);
                break;
            }
            Py_DECREF(pair);
        }
        if (ranges == NULL || PyModule_AddObject(m, "NFC_SAFE_RANGES", ranges) < 0) {
            Py_XDECREF(ranges);
            Py_DECREF(m);
            return NULL;
        }
        PyModule_AddStringConstant(m, "LEXBOR_VERSION", LEXBOR_VERSION_STRING);
    }
    return m;
}
