// SPDX-License-Identifier: MIT
/* filelist.c - files.xml.bz2: written by hand (the format is tiny),
 * compressed with libbz2; read with libbz2's streaming decompressor
 * feeding expat, so a list is never held whole in memory twice. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>
#include <expat.h>

#include "filelist.h"
#include "xalloc.h"

/* ---- generation ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n + 1) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_attr(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			sb_str(b, "&amp;");
			break;
		case '<':
			sb_str(b, "&lt;");
			break;
		case '>':
			sb_str(b, "&gt;");
			break;
		case '"':
			sb_str(b, "&quot;");
			break;
		case '\'':
			sb_str(b, "&apos;");
			break;
		default:
			if ((unsigned char)s[i] < 0x20) {
				char e[8];

				snprintf(e, sizeof(e), "&#%d;", s[i]);
				sb_str(b, e);
			} else {
				sb_add(b, s + i, 1);
			}
		}
	}
}

static void
sb_indent(struct sbuf *b, size_t depth)
{
	for (size_t i = 0; i < depth; i++)
		sb_add(b, "\t", 1);
}

/* The directory components of a vpath "/a/b/c": a, b (the last is the
 * file's name). */
static size_t
vpath_dirs(const char *v, const char **start, size_t *len, size_t max)
{
	size_t n = 0;
	const char *p = v + 1, *s;

	while ((s = strchr(p, '/')) != NULL && n < max) {
		start[n] = p;
		len[n] = (size_t)(s - p);
		n++;
		p = s + 1;
	}
	return n;
}

int
filelist_xml(const struct filelist_item *items, size_t n, const char *cid,
             char **out, size_t *out_len)
{
	struct sbuf b = { 0 };
	const char *open_s[FILELIST_MAX_DEPTH];
	size_t open_l[FILELIST_MAX_DEPTH], depth = 0;

	sb_str(&b, "<?xml version=\"1.0\" encoding=\"utf-8\" "
	           "standalone=\"yes\"?>\n<FileListing Version=\"1\" CID=\"");
	sb_attr(&b, cid, strlen(cid));
	sb_str(&b, "\" Base=\"/\" Generator=\"ipckit " IPCKIT_VERSION "\">\n");
	for (size_t i = 0; i < n; i++) {
		const char *ds[FILELIST_MAX_DEPTH];
		size_t dl[FILELIST_MAX_DEPTH], nd, common = 0;
		const char *name;
		char num[32];

		nd = vpath_dirs(items[i].vpath, ds, dl, FILELIST_MAX_DEPTH);
		while (common < nd && common < depth &&
		       dl[common] == open_l[common] &&
		       memcmp(ds[common], open_s[common], dl[common]) == 0)
			common++;
		while (depth > common) {
			depth--;
			sb_indent(&b, depth + 1);
			sb_str(&b, "</Directory>\n");
		}
		for (; depth < nd; depth++) {
			sb_indent(&b, depth + 1);
			sb_str(&b, "<Directory Name=\"");
			sb_attr(&b, ds[depth], dl[depth]);
			sb_str(&b, "\">\n");
			open_s[depth] = ds[depth];
			open_l[depth] = dl[depth];
		}
		name = strrchr(items[i].vpath, '/') + 1;
		sb_indent(&b, depth + 1);
		sb_str(&b, "<File Name=\"");
		sb_attr(&b, name, strlen(name));
		snprintf(num, sizeof(num), "\" Size=\"%llu\" TTH=\"",
		         (unsigned long long)items[i].size);
		sb_str(&b, num);
		sb_str(&b, items[i].tth32);
		sb_str(&b, "\"/>\n");
	}
	while (depth > 0) {
		depth--;
		sb_indent(&b, depth + 1);
		sb_str(&b, "</Directory>\n");
	}
	sb_str(&b, "</FileListing>\n");
	*out = b.p;
	*out_len = b.len;
	return 0;
}

int
filelist_build(const struct filelist_item *items, size_t n, const char *cid,
               unsigned char **out, size_t *out_len)
{
	char *xml;
	size_t xml_len;
	unsigned int cap;
	unsigned char *z;
	int rc;

	filelist_xml(items, n, cid, &xml, &xml_len);
	if (xml_len > FILELIST_MAX_XML) {
		free(xml);
		return -EFBIG;
	}
	cap = (unsigned int)(xml_len + xml_len / 100 + 600);
	z = xmalloc(cap);
	rc = BZ2_bzBuffToBuffCompress((char *)z, &cap, xml, (unsigned)xml_len,
	                              9, 0, 0);
	free(xml);
	if (rc != BZ_OK) {
		free(z);
		return -EIO;
	}
	*out = z;
	*out_len = cap;
	return 0;
}

/* ---- parsing ---- */

struct fl_parse {
	struct filelist *fl;
	XML_Parser xp;
	char *path; /* owned: current directory, "/a/b/" */
	size_t path_len;
	size_t depth; /* open elements */
	bool in_listing;
	int err;
};

static const char *
fl_attr(const XML_Char **attr, const char *name)
{
	for (size_t i = 0; attr[i]; i += 2)
		if (strcmp(attr[i], name) == 0)
			return attr[i + 1];
	return NULL;
}

static bool
fl_name_ok(const char *n)
{
	return n && *n && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
	       strchr(n, '/') == NULL;
}

static void
fl_add(struct fl_parse *p, const char *name, bool dir, uint64_t size,
       const char *tth)
{
	struct filelist *fl = p->fl;
	struct filelist_entry *e;

	if (fl->n == FILELIST_MAX_ENTRIES) {
		p->err = -EFBIG;
		XML_StopParser(p->xp, XML_FALSE);
		return;
	}
	if (fl->n == fl->cap) {
		fl->cap = fl->cap ? fl->cap * 2 : 256;
		fl->e = xreallocarray(fl->e, fl->cap, sizeof(*fl->e));
	}
	e = &fl->e[fl->n++];
	memset(e, 0, sizeof(*e));
	e->path = xasprintf("%s%s%s", p->path, name, dir ? "/" : "");
	e->dir = dir;
	e->size = size;
	if (tth && strlen(tth) == 39)
		memcpy(e->tth32, tth, 40);
}

static void XMLCALL
fl_start(void *ud, const XML_Char *el, const XML_Char **attr)
{
	struct fl_parse *p = ud;

	if (p->err)
		return;
	if (++p->depth > FILELIST_MAX_DEPTH) {
		p->err = -EFBIG;
		XML_StopParser(p->xp, XML_FALSE);
		return;
	}
	if (p->depth == 1) {
		const char *cid = fl_attr(attr, "CID");
		const char *gen = fl_attr(attr, "Generator");

		if (strcmp(el, "FileListing") != 0) {
			p->err = -EBADMSG;
			XML_StopParser(p->xp, XML_FALSE);
			return;
		}
		p->in_listing = true;
		if (cid)
			p->fl->cid = xstrdup(cid);
		if (gen)
			p->fl->generator = xstrdup(gen);
		return;
	}
	if (strcmp(el, "Directory") == 0) {
		const char *name = fl_attr(attr, "Name");
		size_t nl;

		if (!fl_name_ok(name)) {
			/* A bad name: keep the nesting, list nothing. */
			name = "_";
		}
		fl_add(p, name, true, 0, NULL);
		nl = strlen(name);
		p->path = xrealloc(p->path, p->path_len + nl + 2);
		memcpy(p->path + p->path_len, name, nl);
		p->path_len += nl;
		p->path[p->path_len++] = '/';
		p->path[p->path_len] = '\0';
	} else if (strcmp(el, "File") == 0) {
		const char *name = fl_attr(attr, "Name");
		const char *size = fl_attr(attr, "Size");
		char *end;
		unsigned long long sz;

		if (!fl_name_ok(name) || size == NULL)
			return;
		errno = 0;
		sz = strtoull(size, &end, 10);
		if (errno || *end || *size < '0' || *size > '9')
			return;
		fl_add(p, name, false, sz, fl_attr(attr, "TTH"));
	}
}

static void XMLCALL
fl_end(void *ud, const XML_Char *el)
{
	struct fl_parse *p = ud;

	if (p->err)
		return;
	if (p->depth > 1 && strcmp(el, "Directory") == 0 && p->path_len > 1) {
		/* Drop the last "name/". */
		p->path_len--;
		while (p->path_len > 0 && p->path[p->path_len - 1] != '/')
			p->path_len--;
		p->path[p->path_len] = '\0';
	}
	p->depth--;
}

void
filelist_fini(struct filelist *fl)
{
	for (size_t i = 0; i < fl->n; i++)
		free(fl->e[i].path);
	free(fl->e);
	free(fl->cid);
	free(fl->generator);
	memset(fl, 0, sizeof(*fl));
}

static int
fl_feed(struct fl_parse *p, const char *data, size_t n, bool final)
{
	if (XML_Parse(p->xp, data, (int)n, final) == XML_STATUS_ERROR)
		return p->err ? p->err : -EBADMSG;
	return p->err;
}

int
filelist_parse(const void *data, size_t len, bool bz2, struct filelist *fl)
{
	struct fl_parse p = { 0 };
	int err = 0;

	memset(fl, 0, sizeof(*fl));
	p.fl = fl;
	p.path = xstrdup("/");
	p.path_len = 1;
	p.xp = XML_ParserCreate("UTF-8");
	if (p.xp == NULL) {
		free(p.path);
		return -ENOMEM;
	}
	XML_SetUserData(p.xp, &p);
	XML_SetElementHandler(p.xp, fl_start, fl_end);
	if (!bz2) {
		err = fl_feed(&p, data, len, true);
	} else {
		bz_stream z = { 0 };
		char *buf = xmalloc(256 * 1024);
		uint64_t total = 0;
		int rc;

		if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK) {
			err = -ENOMEM;
		} else {
			z.next_in = (char *)(uintptr_t)data;
			z.avail_in = (unsigned)len;
			do {
				z.next_out = buf;
				z.avail_out = 256 * 1024;
				rc = BZ2_bzDecompress(&z);
				if (rc != BZ_OK && rc != BZ_STREAM_END) {
					err = -EBADMSG;
					break;
				}
				total += 256 * 1024 - z.avail_out;
				if (total > FILELIST_MAX_XML) {
					err = -EFBIG;
					break;
				}
				err = fl_feed(&p, buf, 256 * 1024 - z.avail_out,
				              rc == BZ_STREAM_END);
				if (err)
					break;
				if (rc == BZ_OK && z.avail_in == 0 &&
				    z.avail_out != 0) {
					err = -EBADMSG; /* truncated */
					break;
				}
			} while (rc != BZ_STREAM_END);
			BZ2_bzDecompressEnd(&z);
		}
		free(buf);
	}
	if (err == 0 && !p.in_listing)
		err = -EBADMSG;
	XML_ParserFree(p.xp);
	free(p.path);
	if (err)
		filelist_fini(fl);
	return err;
}
