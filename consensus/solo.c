/* The single-validator engine (n = 1). See consensus.h.
 *
 * States: IDLE (waiting for the propose timer) -> BUILDING (asked the host
 * for a block at height h) -> PERSISTING (asked to persist the vote for
 * (h, view, hash)) -> IDLE after COMMIT. */
#include <stdlib.h>
#include <string.h>

#include "consensus.h"

typedef enum { ST_IDLE, ST_BUILDING, ST_PERSISTING, ST_COMMITTING } cs_state;

struct cs_engine {
  cs_config cfg;
  cx_pubkey validators[CX_MAX_VALIDATORS];
  uint64_t committed; /* last committed height */
  uint64_t view;      /* view of the current height's proposal */
  cs_safety safety;
  cs_state st;
  cx_hash pending; /* block being voted on */
};

cx_err cs_new(const cs_config *cfg, uint64_t committed_height, const cs_safety *safety,
              cs_engine **out) {
  if (cfg->nvalidators != 1 || cfg->self != 0) return CX_E_CONFIG;
  cs_engine *e = calloc(1, sizeof *e);
  if (!e) return CX_E_NOMEM;
  e->cfg = *cfg;
  memcpy(e->validators, cfg->validators, cfg->nvalidators * sizeof(cx_pubkey));
  e->cfg.validators = e->validators;
  e->committed = committed_height;
  if (safety) e->safety = *safety;
  /* After a crash between persisting a vote and committing, the safety
   * record is ahead of the store: propose the next height in a later view,
   * so the new vote message differs from anything signed before. */
  if (e->safety.height > committed_height) e->view = e->safety.view + 1;
  e->st = ST_IDLE;
  *out = e;
  return CX_OK;
}

void cs_free(cs_engine *e) { free(e); }

static size_t set_timer(const cs_engine *e, cs_action *a) {
  memset(a, 0, sizeof *a);
  a->type = CS_ACT_SET_TIMER;
  a->height = e->committed + 1;
  a->view = e->view;
  a->timer_ms = e->cfg.block_interval_ms;
  return 1;
}

size_t cs_start(cs_engine *e, cs_action *out) { return set_timer(e, out); }

size_t cs_step(cs_engine *e, const cs_event *ev, cs_action *out) {
  uint64_t h = e->committed + 1;
  switch (ev->type) {
    case CS_EV_TIMER:
      if (e->st != ST_IDLE || ev->height != h) return 0;
      memset(out, 0, sizeof *out);
      out->type = CS_ACT_BUILD_BLOCK;
      out->height = h;
      out->view = e->view;
      e->st = ST_BUILDING;
      return 1;

    case CS_EV_BLOCK_READY:
      if (e->st != ST_BUILDING || ev->height != h || ev->view != e->view) return 0;
      /* Safety rule: one vote per (height, view), and never below the last
       * vote (the record may come from before a crash). */
      if (h < e->safety.height || (h == e->safety.height && e->view <= e->safety.view)) {
        e->view = e->safety.view + 1;
        e->st = ST_IDLE;
        return set_timer(e, out);
      }
      e->pending = ev->block_hash;
      memset(out, 0, sizeof *out);
      out->type = CS_ACT_PERSIST_SAFETY;
      out->safety.height = h;
      out->safety.view = e->view;
      out->safety.block_hash = ev->block_hash;
      e->safety = out->safety;
      e->st = ST_PERSISTING;
      return 1;

    case CS_EV_PERSISTED: {
      if (e->st != ST_PERSISTING || ev->height != h) return 0;
      cx_hash msg;
      vote_message(&e->cfg.chain_id, h, e->view, &e->pending, &msg);
      memset(out, 0, sizeof *out);
      out->type = CS_ACT_COMMIT;
      out->height = h;
      out->view = e->view;
      out->cert.height = h;
      out->cert.view = e->view;
      out->cert.block_hash = e->pending;
      out->cert.nvotes = 1;
      out->cert.votes[0].signer = (uint16_t)e->cfg.self;
      if (e->cfg.sign(e->cfg.sign_ctx, msg.b, &out->cert.votes[0].sig) != CX_OK) {
        /* Cannot sign: try again in a later view (never re-sign this one
         * with other content — the safety record already covers it). */
        e->view++;
        e->st = ST_IDLE;
        return set_timer(e, out);
      }
      e->st = ST_COMMITTING;
      return 1;
    }

    case CS_EV_COMMITTED:
      if (ev->height != h) return 0;
      e->committed = h;
      e->view = 0;
      e->st = ST_IDLE;
      return set_timer(e, out);
  }
  return 0;
}

void cs_safety_encode(const cs_safety *s, uint8_t out[48]) {
  for (int i = 0; i < 8; i++) {
    out[i] = (uint8_t)(s->height >> (56 - 8 * i));
    out[8 + i] = (uint8_t)(s->view >> (56 - 8 * i));
  }
  memcpy(out + 16, s->block_hash.b, 32);
}

cx_err cs_safety_decode(const uint8_t *buf, size_t len, cs_safety *s) {
  if (len != 48) return CX_E_CORRUPT;
  s->height = s->view = 0;
  for (int i = 0; i < 8; i++) {
    s->height = s->height << 8 | buf[i];
    s->view = s->view << 8 | buf[8 + i];
  }
  memcpy(s->block_hash.b, buf + 16, 32);
  return CX_OK;
}
