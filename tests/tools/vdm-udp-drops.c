/* vdm-udp-drops PORT — print "inode drops" for every UDP socket bound to
 * local PORT, as the kernel counts them in /proc/net/udp{,6} of the
 * current network namespace.  Exit 0 with matches, 1 if none or on error,
 * 2 on bad arguments. */
#include "udp_proc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct port_query
{
  uint16_t port;
  unsigned matches;
};

static bool
print_if_port (const struct vdm_udp_proc_entry *entry, void *user_data)
{
  struct port_query *q = user_data;

  if (entry->local_port == q->port) {
    printf ("%lu %" PRIu64 "\n", entry->inode, entry->drops);
    q->matches++;
  }
  return true;
}

static bool
parse_port (const char *text, uint16_t *port)
{
  char *end = NULL;
  unsigned long value;

  if (text[0] < '0' || text[0] > '9')
    return false;
  errno = 0;
  value = strtoul (text, &end, 10);
  if (errno != 0 || *end != '\0' || value == 0 || value > 65535)
    return false;
  *port = (uint16_t) value;
  return true;
}

int
main (int argc, char **argv)
{
  struct port_query q = { 0 };
  int rc;

  if (argc != 2 || !parse_port (argv[1], &q.port)) {
    fprintf (stderr, "Usage: vdm-udp-drops PORT   (1..65535)\n"
        "Prints \"inode drops\" for each UDP socket bound to local PORT.\n");
    return 2;
  }
  rc = vdm_udp_proc_foreach (print_if_port, &q);
  if (rc < 0) {
    fprintf (stderr, "vdm-udp-drops: reading /proc/net/udp: %s\n",
        strerror (-rc));
    return 1;
  }
  if (q.matches == 0) {
    fprintf (stderr, "vdm-udp-drops: no UDP socket bound to port %u\n",
        q.port);
    return 1;
  }
  return 0;
}
