#ifndef ORCH_PACK_H
#define ORCH_PACK_H

#include <stddef.h>

/*
 * Packs joined without unpacking them: the store merges the packs a run
 * wrote this way (store_pack.c).
 *
 * A pack written by git_packbuilder holds every base of its deltas (it is
 * not thin), and a delta names its base by id or by its distance back in
 * the pack. So the entries of several packs, copied one pack after the
 * other, are a valid pack, and its index follows from theirs: the same
 * ids and CRCs, the offsets moved. Nothing is inflated, searched for
 * deltas or deflated again; the cost is copying the bytes once and the
 * two checksums. (Repacking with the packbuilder instead redid the delta
 * search of every object at every merge: a quarter of a long run's time.)
 * The price is that no object is made a delta of one in another pack.
 */

/* A pack's name: the hex of its checksum, as git names packs. */
#define ORCH_PACK_NAME_LEN 40

/*
 * Write, in `pack_dir` (objects/pack/, with its '/'), the pack
 * pack-<name>.pack joining packs pack-<names[i]>.pack, 0 <= i < n, and
 * then its .idx; `out` gets its name. The .pack and .idx are written under
 * temporary names and renamed into place, the .idx last (a reader finds
 * packs by their index); when the .idx cannot take its place, the .pack
 * is removed again. A pack of that name that is there with its index
 * already (the same objects) is left as it is. With `sync`, each is
 * flushed to disk first (core.fsyncObjectFiles).
 *
 * 1, writing nothing, when they cannot be joined so: an object in two of
 * them, or an index of another version than 2. 0 when done, or an error
 * naming the file.
 */
int orch_pack_join(char out[ORCH_PACK_NAME_LEN + 1], const char *pack_dir,
                   const char *const *names, size_t n, int sync);

/*
 * The object ids of pack `name` in `pack_dir` (as above), read from its
 * index: *ids gets `*n` ids of 20 bytes each, in the index's order
 * (free() it). 1, with nothing, when the index is of another version than
 * 2; an error naming the file when it cannot be read or is damaged.
 */
int orch_pack_ids(unsigned char **ids, size_t *n, const char *pack_dir,
                  const char *name);

#endif
