/* safetensors_fuzz.c — libFuzzer target for the C core's safetensors loader
 * (core/io.c, rl_safetensors_load_buffer; rnn.load in bindings/io.c reads
 * the file and goes through the same load_source).
 *
 * Any input is a candidate file. A status code is a fine outcome; a crash,
 * a sanitizer report, a hang, or a success that breaks the loader's own
 * promises (core/io.h: contiguous float32/float64/int64 tensors, names and
 * metadata strings present) is a finding. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/io.h"
#include "../../core/status.h"
#include "../../core/tensor.h"

static void fail(const char *what)
{
    fprintf(stderr, "safetensors_fuzz: loader broke its contract: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rl_safetensors_file *f = NULL;
    rl_status st = rl_safetensors_load_buffer(&f, data, size, "fuzz.safetensors");
    if (st != RL_OK) {
        if (f != NULL) fail("an error left a result behind");
        const char *msg = rl_last_error();
        if (msg == NULL || strncmp(msg, "safetensors_load: fuzz.safetensors: ", 36) != 0)
            fail("an error message that does not name the loader and the file");
        return 0;
    }
    if (f == NULL || f->count < 0 || f->nmeta < 0) fail("a success without a result");
    for (int i = 0; i < f->count; i++) {
        rl_tensor *t = f->tensors[i];
        if (f->names[i] == NULL || t == NULL) fail("a tensor without a name or a value");
        if (t->dtype != RL_FLOAT32 && t->dtype != RL_FLOAT64 && t->dtype != RL_INT64) fail("a dtype the core cannot hold");
        if (!rl_tensor_is_contiguous(t)) fail("a non-contiguous tensor");
        /* every element readable: ASan reports an undersized buffer */
        volatile unsigned char sink = 0;
        size_t bytes = (size_t)rl_tensor_numel(t) * rl_dtype_size(t->dtype);
        const unsigned char *p = rl_tensor_data(t);
        for (size_t k = 0; k < bytes; k++) sink ^= p[k];
        (void)sink;
    }
    for (int i = 0; i < f->nmeta; i++)
        if (f->meta_keys[i] == NULL || f->meta_values[i] == NULL) fail("a metadata pair with a missing string");
    rl_safetensors_free(f);
    return 0;
}
