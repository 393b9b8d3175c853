/* udp_proc — read the kernel's own per-socket UDP drop counter.
 * See udp_proc.h.  Column layout follows udp4_format_sock() /
 * udp6_sock_seq_show() in net/ipv{4,6}/udp.c:
 *   sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref ptr drops
 */
#define _GNU_SOURCE
#include "udp_proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

enum
{
  COL_SLOT = 0,
  COL_LOCAL = 1,
  COL_REMOTE = 2,
  COL_INODE = 9,
  COL_DROPS = 12,
  N_COLUMNS = 13
};

/* Splits `line` in place at whitespace; returns the number of fields seen
 * (which may exceed max, so callers can tell a truncated line). */
static int
split_fields (char *line, char **fields, int max)
{
  char *save = NULL;
  int n = 0;

  for (char *tok = strtok_r (line, " \t\n", &save); tok != NULL;
      tok = strtok_r (NULL, " \t\n", &save)) {
    if (n < max)
      fields[n] = tok;
    n++;
  }
  return n;
}

static bool
parse_number (const char *text, int base, unsigned long long max,
    unsigned long long *out)
{
  char *end = NULL;

  if (text[0] == '\0' || text[0] == '-' || text[0] == '+')
    return false;
  errno = 0;
  *out = strtoull (text, &end, base);
  return errno == 0 && *end == '\0' && *out <= max;
}

/* "sl" column: decimal digits followed by ':' — rejects the header. */
static bool
is_slot_field (const char *text)
{
  size_t len = strlen (text);
  unsigned long long slot;
  char digits[32];

  if (len < 2 || len >= sizeof digits || text[len - 1] != ':')
    return false;
  memcpy (digits, text, len - 1);
  digits[len - 1] = '\0';
  return parse_number (digits, 10, ~0ULL, &slot);
}

/* "ADDRHEX:PORTHEX" -> port. */
static bool
parse_port (const char *addr_port, uint16_t *port)
{
  const char *colon = strrchr (addr_port, ':');
  unsigned long long value;

  if (colon == NULL || colon == addr_port
      || !parse_number (colon + 1, 16, 0xffff, &value))
    return false;
  *port = (uint16_t) value;
  return true;
}

bool
vdm_udp_proc_parse_line (const char *line, struct vdm_udp_proc_entry *entry)
{
  char copy[512];
  char *fields[N_COLUMNS];
  unsigned long long inode, drops;
  size_t len;

  if (line == NULL || entry == NULL)
    return false;
  len = strlen (line);
  if (len >= sizeof copy)
    return false;
  memcpy (copy, line, len + 1);

  if (split_fields (copy, fields, N_COLUMNS) < N_COLUMNS)
    return false;
  if (!is_slot_field (fields[COL_SLOT])
      || !parse_port (fields[COL_LOCAL], &entry->local_port)
      || !parse_port (fields[COL_REMOTE], &entry->remote_port)
      || !parse_number (fields[COL_INODE], 10, ~0UL, &inode)
      || !parse_number (fields[COL_DROPS], 10, UINT64_MAX, &drops))
    return false;
  entry->family = 0;
  entry->inode = (unsigned long) inode;
  entry->drops = drops;
  return true;
}

/* Visits every socket in one proc file.  Returns 0, 1 if the visitor
 * stopped the walk, or -errno. */
static int
walk_file (const char *path, int family, vdm_udp_proc_visit visit,
    void *user_data)
{
  FILE *f = fopen (path, "re");
  char *line = NULL;
  size_t cap = 0;
  int rc = 0;

  if (f == NULL)
    return -errno;
  while (getline (&line, &cap, f) > 0) {
    struct vdm_udp_proc_entry entry;

    if (!vdm_udp_proc_parse_line (line, &entry))
      continue;
    entry.family = family;
    if (!visit (&entry, user_data)) {
      rc = 1;
      break;
    }
  }
  if (rc == 0 && ferror (f))
    rc = -EIO;
  free (line);
  fclose (f);
  return rc;
}

int
vdm_udp_proc_foreach (vdm_udp_proc_visit visit, void *user_data)
{
  int rc;

  if (visit == NULL)
    return -EINVAL;
  rc = walk_file ("/proc/net/udp", AF_INET, visit, user_data);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  rc = walk_file ("/proc/net/udp6", AF_INET6, visit, user_data);
  /* No udp6 file simply means IPv6 is off: there are no v6 sockets. */
  if (rc == -ENOENT)
    return 0;
  return rc < 0 ? rc : 0;
}

struct inode_query
{
  unsigned long inode;
  uint64_t drops;
  bool found;
};

static bool
match_inode (const struct vdm_udp_proc_entry *entry, void *user_data)
{
  struct inode_query *q = user_data;

  if (entry->inode != q->inode)
    return true;
  q->drops = entry->drops;
  q->found = true;
  return false;
}

int
vdm_udp_proc_drops_by_inode (unsigned long inode, uint64_t *drops)
{
  struct inode_query q = { .inode = inode };
  int rc;

  /* Inode 0 is what /proc shows for sockets without a file (e.g. being
   * torn down); it never identifies one socket. */
  if (drops == NULL || inode == 0)
    return -EINVAL;
  rc = vdm_udp_proc_foreach (match_inode, &q);
  if (rc < 0)
    return rc;
  if (!q.found)
    return -ENOENT;
  *drops = q.drops;
  return 0;
}

int
vdm_udp_proc_drops (int fd, uint64_t *drops)
{
  struct stat st;

  if (drops == NULL)
    return -EINVAL;
  if (fstat (fd, &st) != 0)
    return -errno;
  if (!S_ISSOCK (st.st_mode))
    return -ENOTSOCK;
  return vdm_udp_proc_drops_by_inode ((unsigned long) st.st_ino, drops);
}
