/* The block explorer's static files (node/explorer/: index.html, app.js,
 * style.css; docs/explorer.md), embedded into custosd at build time by
 * embed.cmake, which generates the definition below into the build
 * directory (node/explorer_assets/explorer_assets.c). Served by the RPC
 * server's GET hook (metrics.c). */
#ifndef CUSTOS_EXPLORER_ASSETS_H
#define CUSTOS_EXPLORER_ASSETS_H

#include <stddef.h>

typedef struct {
  const char *path;           /* the URL path it is served at */
  const unsigned char *data;  /* the file's bytes (not NUL-terminated) */
  size_t len;
  const char *ctype;          /* Content-Type */
} explorer_asset;

/* The asset served at path ("/explorer/" and "/explorer" give
 * index.html), or NULL. */
const explorer_asset *explorer_asset_find(const char *path);

#endif
