/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vdropmon_peek.c — the first bytes of a buffer, read without writing to it
 * and, for system memory, without mapping it (issue 13).
 *
 * gst_memory_map() and gst_memory_unmap() cost two atomic read-modify-writes
 * on the memory's lock state and two calls through its allocator: 30-40 ns
 * per buffer in this VM, as much as everything else the element does on the
 * streaming thread. For the memory almost every RTP buffer has — system
 * memory (udpsrc's, a payloader's, gst_buffer_new_wrapped()'s) — mapping for
 * reading only returns the block's data pointer plus the memory's offset, and
 * the lock protects nothing a reader needs: the buffer we hold keeps the
 * memory alive, and a memory mapped for writing by another thread while we
 * pass it on is a bug upstream whichever way we read it.
 *
 * GStreamer does not publish where system memory keeps its data pointer
 * (GstMemorySystem is private), so it is found once at run time: a system
 * memory is allocated and mapped, and the word after the public GstMemory
 * that holds the block's address is looked for; it must then give the right
 * address for a wrapped memory and for a shared sub-memory (with an offset)
 * too, or the fast path stays off. Every other memory — another allocator,
 * several memories, a failed discovery — is mapped (or copied) as before.
 */
#include "gstvdropmon_priv.h"

#define GST_CAT_DEFAULT vdropmon_debug
/* Words after the public GstMemory where the data pointer is looked for
 * (GstMemorySystem: slice_size, data, user_data, notify). */
#define SYSMEM_SEARCH_WORDS 4

static GstAllocator *sysmem_allocator;  /* NULL: no fast path */
static gsize sysmem_data_offset;        /* bytes from the GstMemory to its data pointer */

static guint8 *
sysmem_data_at (GstMemory * mem, gsize offset)
{
  return *(guint8 * const *) ((const guint8 *) mem + offset);
}

/* The address mem's map gives, or NULL. */
static guint8 *
mapped_data (GstMemory * mem)
{
  GstMapInfo map;
  guint8 *data;

  if (!gst_memory_map (mem, &map, GST_MAP_READ))
    return NULL;
  data = map.data;
  gst_memory_unmap (mem, &map);
  return data;
}

static gboolean
offset_gives_mapped_data (GstMemory * mem, gsize offset)
{
  guint8 *data = mapped_data (mem);

  return data && sysmem_data_at (mem, offset) + mem->offset == data;
}

/* Where the data pointer of a system memory is, or 0 when not found. The
 * memory allocated here is larger than the search, so every word read is
 * inside its block. */
static gsize
find_sysmem_data_offset (GstAllocator * allocator)
{
  static guint8 wrapped_bytes[64];
  GstMemory *alloc = gst_allocator_alloc (allocator, 256, NULL);
  GstMemory *wrapped = gst_memory_new_wrapped (GST_MEMORY_FLAG_READONLY, wrapped_bytes,
      sizeof (wrapped_bytes), 8, 16, NULL, NULL);
  GstMemory *shared = alloc ? gst_memory_share (alloc, 24, 100) : NULL;
  gsize found = 0, offset;

  for (offset = sizeof (GstMemory); alloc && shared && wrapped && !found
      && offset < sizeof (GstMemory) + SYSMEM_SEARCH_WORDS * sizeof (gpointer);
      offset += sizeof (gpointer)) {
    if (offset_gives_mapped_data (alloc, offset) && offset_gives_mapped_data (shared, offset)
        && offset_gives_mapped_data (wrapped, offset)
        && sysmem_data_at (wrapped, offset) == wrapped_bytes
        && shared->allocator == allocator && wrapped->allocator == allocator)
      found = offset;
  }
  if (shared)
    gst_memory_unref (shared);
  if (wrapped)
    gst_memory_unref (wrapped);
  if (alloc)
    gst_memory_unref (alloc);
  return found;
}

static gpointer
discover_sysmem (gpointer unused)
{
  GstAllocator *allocator = gst_allocator_find (GST_ALLOCATOR_SYSMEM);

  if (!allocator)
    return NULL;
  sysmem_data_offset = find_sysmem_data_offset (allocator);
  if (sysmem_data_offset)
    sysmem_allocator = allocator;     /* kept for the process: it is never freed anyway */
  else
    gst_object_unref (allocator);
  GST_INFO ("system memory read %s (data pointer at byte %" G_GSIZE_FORMAT ")",
      sysmem_allocator ? "without mapping" : "through gst_memory_map", sysmem_data_offset);
  return NULL;
}

void
vdm_peek_init (void)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, discover_sysmem, NULL);
}

gboolean
vdm_peek_sysmem_direct (void)
{
  return sysmem_allocator != NULL;
}

/* Not the fast path: map the one memory, or copy the head of several
 * (mapping several would merge them into the buffer). */
static gboolean
peek_slow (GstBuffer * buf, GstMemory * mem, VdmPeek * peek)
{
  if (mem) {
    if (!gst_memory_map (mem, &peek->map, GST_MAP_READ))
      return FALSE;
    peek->mapped = mem;
    peek->data = peek->map.data;
    peek->size = peek->map.size;
    peek->complete = TRUE;
    return TRUE;
  }
  peek->size = gst_buffer_extract (buf, 0, peek->head, sizeof (peek->head));
  peek->data = peek->head;
  peek->complete = peek->size == gst_buffer_get_size (buf);
  return TRUE;
}

gboolean
vdm_peek_buffer (GstBuffer * buf, VdmPeek * peek)
{
  GstMemory *mem = gst_buffer_n_memory (buf) == 1 ? gst_buffer_peek_memory (buf, 0) : NULL;

  peek->mapped = NULL;
  if (G_LIKELY (mem && sysmem_allocator && mem->allocator == sysmem_allocator
          && !GST_MEMORY_FLAG_IS_SET (mem, GST_MEMORY_FLAG_NOT_MAPPABLE))) {
    peek->data = sysmem_data_at (mem, sysmem_data_offset) + mem->offset;
    peek->size = mem->size;
    peek->complete = TRUE;
    return TRUE;
  }
  return peek_slow (buf, mem, peek);
}

void
vdm_peek_release (VdmPeek * peek)
{
  if (peek->mapped)
    gst_memory_unmap (peek->mapped, &peek->map);
}
