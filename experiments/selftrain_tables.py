"""selftraining-without-parallel.md Tables 4-6 from distillx sweeps: per target language, the target test score
of zero-shot fine-tuning, BTF only, self-training only, the full method and its ablations, beside the paper's
mBERT figures, with each hard step's threshold and kept pseudo-labels and each stage's wall time.

    experiments/selftrain_runs.sh                            # the sweeps (resumable: run it again to continue)
    .venv/bin/python experiments/selftrain_tables.py         # print the tables of what has finished
    .venv/bin/python experiments/selftrain_tables.py --write # and replace the section in benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
from mblm_tables import jobs, mean_std, pct, publish, row_of, wall_times  # noqa: E402
from results_md import read_section  # noqa: E402  (on the path through mblm_tables)

from distillx.distill.selftrain import agreement  # noqa: E402
from distillx.files import code_fingerprint  # noqa: E402
from distillx.store import BUILDING_CODE  # noqa: E402
from distillx.train.loop import StageResult  # noqa: E402

SWEEPS = ROOT / "outputs" / "selftrain"
PROBES = ROOT / "outputs" / "selftrain_probe"  # single runs beside the sweeps, e.g. longer soft steps
HEADING = "## Self-training without parallel data (selftraining-without-parallel.md Tables 4-6, reduced)"
ROWS = {
    "finetune": "zero-shot fine-tuning (MBERT row)",
    "no_st": "BTF only (- ST)",
    "no_btf": "self-training only (- BTF)",
    "full": "full method (Ours)",
    "no_at": "- AT (fixed alpha 0.9)",
    "no_vm": "- VM (no voters)",
}
# The paper's CoNLL F1 (Tables 4 and 6, mBERT): row -> {language: F1}.
PAPER = {
    "finetune": {"de": 72.24, "es": 74.96, "nl": 79.31},
    "no_st": {"de": 72.73, "es": 76.62, "nl": 80.28},
    "no_btf": {"de": 74.26, "es": 78.12, "nl": 81.23},
    "full": {"de": 76.88, "es": 78.38, "nl": 82.08},
    "no_at": {"de": 76.23, "es": 78.08, "nl": 81.54},
    "no_vm": {"de": 76.76, "es": 77.51, "nl": 81.39},
}
# What the figures above say, against the paper's claims, per sweep (written from the runs named; rerun, reread).
FINDINGS = {
    "conll_de": [
        "Findings, de (runs of 2026-12-02; one seed, reduced; the paper's mBERT rows gain 0.5 from BTF, 4.2 more "
        "from self-training, and 0.1-0.7 from each of AT and VM):",
        "- At the paper's 10 epochs per soft step, round 2 collapses (full method: BTF + fine-tuning 59.6, soft 1 "
        "60.4, hard 2 58.9, soft 3 33.2). Its soft students are under-trained: they agree with their teacher on 74 "
        "% and 62 % of the dev entities, still rising at the last epoch. 2.6k target sentences make 820 steps in "
        "10 epochs (the paper: 60k sentences), and fresh voter heads learn slowly from probabilities (MSE).",
        "- With 30 epochs per soft step (the probe) the agreement reaches 85 % and 90 %, and every step holds or "
        "gains: 59.6, 61.6, 63.3, 62.1. Self-training then adds 2.5 points over BTF only (the paper: 4.2).",
        "- Without voters (- VM) one linear head learns from probabilities far faster (84 % and 90 % in 10 "
        "epochs), and this row ends best (64.2; its fine-tuned start is 63.2 against the voters' 59.6): here the "
        "voters cost more than they add, as on the demo, against the paper's +0.1.",
        "- A fixed alpha of 0.9 (- AT) keeps fewer target tags than the knee's 0.54 (38.4k against 41.6k) and ends "
        "lower (29.6 against 33.2), both on the collapsing 10-epoch schedule.",
        "- BTF: +12.1 (59.6 against 47.5), overstated: both fine-tunings ran 2 epochs, and e5-small's plain "
        "fine-tuning is still climbing there (3 epochs gave 58.2 in an earlier run). Without BTF (- BTF) the round-1 "
        "teacher is that under-trained 47.5 model, its soft student reaches 49 % agreement, and the chain ends at "
        "16.1: self-training needs a teacher worth copying.",
    ],
    "conll_es": [
        "Findings, es (runs of 2026-12-03 and 04; one seed, reduced; the paper's mBERT rows: 74.96, 76.62 with BTF): "
        "BTF adds 2.3 points (the paper: 1.66). The same two rows from code f19733c with the English fine-tuning on one"
        " thread (2026-12-02, outputs lost with that checkout) gave 60.9 and 63.1: the thread count alone moves a "
        "single-seed figure by 2.5 points here, the BTF gain by 0.1.",
        "- Full method: 65.7 (BTF + fine-tuning), soft 65.7, hard 66.4, soft 66.4: +0.7 over BTF only (the paper: "
        "+1.76). Its soft students reach 88.1 % and 92.9 % dev agreement with their teachers (still rising at epoch "
        "10); the hard step's knee is at alpha 0.93 and keeps 88 % of the target word tags. The row ran over two "
        "sessions: stopped after two soft epochs, resumed from its stage checkpoint (BTF and fine-tuned models from "
        "the stage cache).",
        "- - AT (fixed alpha 0.9): 65.7, soft 65.7, hard 66.5, soft 66.7; the fixed alpha keeps "
        "240,157 of 262,410 target word tags (the knee's 0.93: 230,908), "
        "and the row ends +0.3 against the full method (the paper: -0.3 for - AT).",
        "- - BTF (self-training from the plain fine-tuned model, 63.4; run 2026-12-04 as job 4 alone, `JOB=4 "
        "ROWS=no_btf`, in a new checkout that had lost the other rows' outputs): soft 64.0, hard 65.0, soft 64.7: "
        "+1.3 (the paper: +3.16), and it ends 1.7 below the full method (the paper: 0.26 below). Unlike nl, BTF's "
        "lead at the start with seed 42 (+2.3; with seeds 1 and 2: -0.1 and +2.4, see the spread) carries through "
        "seed 42's self-training here, in the paper's direction. Its soft students "
        "reach 89.2 % and 91.7 % dev agreement; the knee is at alpha 0.67 (full method: 0.93) and keeps 239,699 of "
        "262,410 target word tags. The English source falls from 80.1 to 70.8. A soft epoch took ~170-215 s on "
        "this machine, against ~385 s for the rows above.",
        "- - VM (one linear head instead of the voters; run 2026-12-04 as job 5 alone, `JOB=5 ROWS=no_vm`, on the "
        "seed-42 BTF model that the seeds sweep's job 3 rebuilt by the current code, which gives the kept BTF-only "
        "row's 65.7 again): fine-tuned 70.9, soft 71.9, hard 72.2, soft 72.0: +1.1 from self-training (the full "
        "method: +0.7), and it ends 5.6 above the full method where the paper has - VM 0.87 below. Nearly all of that "
        "lead is fine-tuning's: without voters the BTF model fine-tunes to 70.9 on es and 88.5 on English (with them: "
        "65.7 and 82.7), as on CoNLL de (63.2 against 59.6), nl (70.9 against 63.7) and MTOP (65.0 against 55.3). Its "
        "soft students reach 88.0 % and 93.1 % dev agreement; the knee is at alpha 0.91 and keeps 226,717 of 262,410 "
        "target word tags. On e5-small with 2 epochs of fine-tuning the voters' three MLP heads cost 5 points at the "
        "start that self-training does not win back.",
    ],
    "conll_nl": [
        "Findings, nl (runs of 2026-12-03; one seed, reduced; the paper's mBERT rows: 79.31, 80.28 with BTF): BTF "
        "adds 0.6 points (the paper: 0.97), and 1.2 on the English source (80.1 -> 81.3). Zero-shot fine-tuning is "
        "one stage with es's (fine-tuning on English does not depend on the target), so its nl row cost an "
        "evaluation. BTF read en + nl's 29,847 utterances for 2 epochs in 3,688 s, beside test runs on the same "
        "cores; its dev MLM loss fell from 6.74 to 6.38 (e5-small's MLM head is new, see above).",
        "- Full method: 63.7 (BTF + fine-tuning), soft 63.1, hard 64.0, soft 64.1: +0.4 over BTF only (the paper: "
        "+1.80), the same direction as es (+0.7) and smaller. Its soft students reach 87.7 % and 91.2 % dev "
        "agreement with their teachers; the hard step's knee is at alpha 0.72 (es: 0.93) and keeps 96 % of the "
        "target word tags. The English source falls from 81.3 to 71.8 over the rounds: the soft steps read target "
        "text only, and the hard step's source half (the examples the soft student gets right) does not hold it. "
        "The row ran over two sessions, resumed from its stage checkpoints; its last soft step's first epoch took "
        "934 s beside a clean-clone test run, the others ~320-365 s.",
        "- - AT (fixed alpha 0.9): 63.7, soft 63.1, hard 64.0, soft 64.1; the fixed alpha keeps "
        "188,549 of 200,153 target word tags (the knee's 0.72: "
        "191,858), and the row ends level with the full method (the paper: -0.54 for - AT on nl).",
        "- - BTF (self-training from the plain fine-tuned model, 63.1): soft 64.2, hard 64.7, soft 64.8: +1.7 "
        "(the paper: +1.92), and it ends 0.7 above the full method where the paper has it 0.85 below. Its soft "
        "students reach 89.6 % and 91.9 % dev agreement; the knee is at alpha 0.80 and keeps 183,285 of 200,153 "
        "target word tags. On nl, with one seed, BTF's 0.6 at the start does not carry through self-training. "
        "The row ran 2026-12-03 22:31 to 00:53, alone on the 2 cores (stage times below).",
        "- - VM (one linear head instead of the voters; run 2026-12-04 as job 5 alone, `JOB=5 ROWS=no_vm`, in a "
        "checkout that had lost the other nl rows' outputs, on a BTF model rebuilt by the current code, which gives "
        "the kept BTF-only row's 63.7 again, see the spread): fine-tuned 70.9, soft 71.7, hard 71.8, soft 71.0: "
        "+0.1 from self-training (the full method: +0.4), and it ends 6.9 above the full method where the paper has "
        "- VM 0.69 below. As on es, de and MTOP, the lead is fine-tuning's: without voters the BTF model fine-tunes "
        "to 70.9 on nl and 89.1 on English (with them: 63.7 and 81.3). Its soft students reach 88.5 % and 91.1 % "
        "dev agreement; the knee is at alpha 0.93 and keeps 181,653 of 200,153 target word tags. The English "
        "source falls from 89.1 to 78.1 over the rounds. The row ran 2026-12-04 16:16 to 17:51, alone on the 2 "
        "cores, each stage 2-3x faster than the rows above on this session's machine.",
    ],
    "conll_es_seeds": [
        "Findings over seeds, es (runs of 2026-12-04 in a new checkout, every stage built anew by the current code): "
        "seed 42 reproduces its row exactly (63.4 on es, 80.1 on the English source), on a machine where the two "
        "epochs of English fine-tuning took 308-383 s (716 s in the runs above). Seeds 1 and 2 give 61.1 and 61.2: "
        "seed 42 is the best of three, and the seed alone moves zero-shot fine-tuning by 2.3 points, as much as BTF "
        "adds with seed 42 (+2.3) and more than any self-training row gains above (at most +1.3, - BTF): "
        "single-seed differences between rows of a point or two here are within that noise.",
        "- BTF only over seeds (jobs 3-5, the seeds sweep's `ROWS=no_st SEEDS=<seed> JOB=<n>`): seed 42 rebuilt "
        "the BTF model and its fine-tuning by the current code and gives the kept row's 65.7 again (82.7 on "
        "English); BTF took 741 s an epoch here. Seed 1 gives 61.0 (83.1 on English) and seed 2 (run 2026-12-04, "
        "BTF 1,344 s for 2 epochs) 63.7 (83.2), against 61.1 and 61.2 for plain fine-tuning: paired by seed, BTF "
        "adds +2.3 (42), -0.1 (1) and +2.4 (2), +1.5 ± 1.4 on average, close to the paper's +1.66, but above "
        "zero in 2 of 3 seeds only: more seeds would settle it.",
        "- Full method over seeds (jobs 6-8, `ROWS=full SEEDS=<seed> JOB=<n>`): with seed 42 (job 6, run "
        "2026-12-05 02:09-03:29, on the BTF and fine-tuned stages of job 3) the current code gives every step of "
        "the kept row again: 65.7, soft 65.7, hard 66.4, soft 66.4 on es, the knee at alpha 0.93 keeping 230,908 "
        "target and 195,440 source word tags, dev agreement 88.1 % and 92.9 %, and 68.0 on English at the end; "
        "stages 1,794 s (soft), 684 s (hard) and 1,892 s (soft). Seed 1 (job 7, on job 4's stages, run over two "
        "sessions, 2026-12-05 00:28-01:04 and 01:23-02:09, resumed before its hard step): 61.0, soft 61.0, hard "
        "61.4, soft 61.4 on es and 69.2 on English at the end, dev agreement 88.1 % and 91.4 %, the knee at alpha "
        "0.94 keeping 225,006 target and 195,894 source word tags; stages 1,888 s, 653 s and 1,762 s. Seed 2 (job "
        "8, run 2026-12-05 04:27-06:06 in a new checkout, every stage built anew): BTF (1,372 s, dev MLM loss "
        "6.59 -> 6.27 over its 2 epochs) and fine-tuning (284 s) give job 5's BTF-only 63.7 on es and 83.2 on "
        "English again; then soft 64.5, hard 64.6, soft 64.5 on es and 70.0 on English at the end, dev agreement "
        "86.5 % and 94.1 %, the knee at alpha 0.94 keeping 224,392 target and 195,618 source word tags; stages "
        "1,730 s, 618 s and 1,701 s. Self-training's gain (the spread table above) is positive with all three "
        "seeds and below the paper's +1.76; the full method's spread is BTF's, from which it starts. Job 8 ran in a "
        "checkout without the sweep's other outputs: the spread takes their runs as written before, to 0.1 points.",
        "- Self-training only (- BTF) over seeds (jobs 9-11, `ROWS=no_btf SEEDS=<seed> JOB=<n>`): seed 42's run is "
        "the kept row above (63.4, soft 64.0, hard 65.0, soft 64.7), which the spread reads from the main table, "
        "this checkout having lost its outputs. Seed 1 (job 10, run 2026-12-05 over two sessions, 06:11-06:59 and "
        "07:16-07:59, resumed before its hard step) fine-tunes on English to seed 1's zero-shot 61.1 again, then "
        "soft 62.4, hard 63.0, soft 62.9 on es and 66.2 on English at the end, dev agreement 84.7 % and 90.3 %, "
        "the knee at alpha 0.84 keeping 231,436 target and 193,895 source word tags; stages 1,628 s (soft), 598 s "
        "(hard) and 1,629 s (soft). Its fine-tuning's 1,191 s counts a 13-minute pause in its second epoch (the "
        "first took 215 s). Seed 2 (job 11, run 2026-12-05 08:00-09:22 alone on the 2 cores, its fine-tuning "
        "built anew in 362 s) fine-tunes to seed 2's zero-shot 61.2 again, then soft 62.6, hard 63.1, soft 62.8 "
        "on es and 68.3 on English at the end, dev agreement 88.5 % and 92.5 %, the knee at alpha 0.93 keeping "
        "224,683 target and 195,423 source word tags; stages 1,663 s, 623 s and 1,774 s. Without BTF "
        "self-training gains more than after it with every seed (+1.3, +1.8, +1.6 against the full method's "
        "+0.7, +0.4, +0.9 with seeds 42, 1, 2), as in the paper (+3.16 against +1.76), and about half the "
        "paper's gain. Where the two rows end differs by seed: the full method 1.7 above - BTF with seeds 42 and "
        "2, 1.5 below it with seed 1, whose BTF adds nothing (-0.1).",
        "- - VM over seeds (jobs 12-14, `ROWS=no_vm SEEDS=<seed> JOB=<n>`): seed 42's run is the kept row above "
        "(fine-tuned 70.9, soft 71.9, hard 72.2, soft 72.0), read from the main table. Seed 1 (job 13, run "
        "2026-12-05 13:49-15:24 alone on the 2 cores) rebuilt seed 1's BTF model (1,372 s for 2 epochs, dev MLM loss "
        "6.57 -> 6.22), fine-tuned without voters to 69.5 on es and 88.5 on English (with voters, job 4: 61.0 and "
        "83.1), then soft 70.5, hard 70.9, soft 71.1 on es and 78.5 on English at the end, dev agreement 88.0 % and "
        "92.7 %, the knee at alpha 0.91 keeping 229,456 target and 197,566 source word tags; stages 292 s "
        "(fine-tuning), 1,581 s (soft), 580 s (hard) and 1,565 s (soft). Seed 2 (job 14, run 2026-12-05 12:05-13:49 "
        "over two sessions, on seed 2's BTF model from the stage cache, job 8's, stopped and resumed after its "
        "fine-tuning and after its hard step) fine-tunes without voters to 68.5 on es and 89.3 on English (with "
        "them: 63.7 and 83.2), then soft 70.5, hard 69.4, soft 69.7 on es and 77.3 on English at the end, dev "
        "agreement 87.5 % and 91.0 %, the knee at alpha 0.92 keeping 226,155 target and 197,531 source word tags; "
        "stages 291 s, 1,665 s, 597 s and 1,561 s. Self-training adds +1.1, +1.5 and +1.3 with seeds 42, 1 and 2, "
        "more than after the voters' fine-tuning with every seed (+0.7, +0.4, +0.9), and - VM ends 5.6, 9.7 and 5.2 "
        "above the full method, where the paper has it 0.87 below: the lead is fine-tuning's (+5.2, +8.5 and +4.8 at "
        "the start), two to four times the seed noise of plain fine-tuning. With seed 1, whose BTF adds nothing with "
        "voters (-0.1), its BTF model fine-tunes without them 8.4 above plain fine-tuning's 61.1.",
    ],
    "conll_nl_seeds": [
        "Findings over seeds, nl (the same three English fine-tunings as es's, one stage per seed, scored on nl): "
        "seed 42 reproduces its row exactly (63.1); seeds 1 and 2 give 60.8 and 61.3, 2.3 points apart from seed 42 "
        "at most, more than the 0.0-1.7 points between the rows with voters above.",
        "- BTF only over seeds (jobs 3-5, `ROWS=no_st SEEDS=<seed> JOB=<n>`, run 2026-12-04): with seed 42 the "
        "current code rebuilt nl's BTF model (1,207 s for 2 epochs, its dev MLM loss 6.74 -> 6.38 as before) and "
        "gives the kept row's 63.7 on nl and 81.3 on English again; seed 1 gives 63.7 too (84.1 on English) and "
        "seed 2 65.7 (86.0; BTF 1,168 s, dev MLM loss 6.74 -> 6.41). Paired by seed with plain fine-tuning, BTF "
        "adds +0.6 (42), +2.9 (1) and +4.4 (2): +2.7 ± 1.9, above zero in every seed, in the paper's direction and "
        "larger than its +0.97 (es: +1.5 ± 1.4, above zero in 2 of 3).",
        "- Full method over seeds (jobs 6-8, `ROWS=full SEEDS=<seed> JOB=<n>`): with seed 42 (run 2026-12-04 "
        "19:43-21:04, on the BTF and fine-tuned stages of job 3) the current code gives every step of the kept "
        "row again: 63.7, soft 63.1, hard 64.0, soft 64.1 on nl and 71.8 on English at the end, the knee at alpha "
        "0.72 keeping 191,858 target and 196,117 source word tags, dev agreement 87.7 % and 91.2 %; the stages "
        "took 1,944 s (soft), 806 s (hard, beside a clean-clone install) and 1,783 s (soft). Seed 1 (job 7, on "
        "job 4's stages, run 2026-12-04 over two sessions, resumed after its last soft step's first epoch): 63.7, "
        "soft 64.3, hard 65.6, soft 65.2 on nl and 69.8 on English at the end, dev agreement 86.0 % and 90.7 %, "
        "the knee at alpha 0.94 (seed 42: 0.72) keeping 178,913 target and 195,609 source word tags; stages "
        "1,901 s, 670 s and 1,791 s. Seed 2 (job 8, on job 5's stages, run 2026-12-04 22:47 to 00:16, partly "
        "beside a clean-clone check): 65.7, soft 65.9, hard 65.8, soft 65.7 on nl and 71.4 on English at the end, dev "
        "agreement 85.6 % and 90.2 %, the knee at alpha 0.88 keeping 185,293 target and 196,013 source word "
        "tags; stages 2,071 s, 825 s and 2,143 s. Self-training's gain (the spread table above) is in the paper's "
        "direction on average and below its +1.80; the full method ends 0.6 above BTF only on average, within "
        "the seed noise.",
        "- Self-training only (- BTF) over seeds (jobs 9-11, `ROWS=no_btf SEEDS=<seed> JOB=<n>`): seed 42's run is "
        "the kept row above (63.1, soft 64.2, hard 64.7, soft 64.8), which the spread reads from the main table, "
        "this checkout having lost its outputs. Seed 1 (job 10, run 2026-12-05 over two sessions, 09:34-10:01 and "
        "10:19-10:58, alone on the 2 cores, resumed before its hard step) loads seed 1's English fine-tuning from "
        "the stage cache (es job 10's stage) and gives seed 1's zero-shot 60.8 on nl again, then soft 61.5, hard "
        "62.1, soft 60.7 on nl and 70.6 on English at the end, dev agreement 87.1 % and 90.4 %, the knee at alpha "
        "0.84 keeping 181,995 target and 195,027 source word tags; stages 1,548 s (soft), 580 s (hard) and 1,524 s "
        "(soft). Its gain is -0.04 (printed -0.0): the last soft step loses the hard step's +1.3, where seed 42 "
        "gains at every step and the full method with seed 1 gains +1.5. Seed 2 (job 11, run 2026-12-05 "
        "10:58-12:04 alone on the 2 cores, on seed 2's English fine-tuning from es job 11's stage) gives seed 2's "
        "zero-shot 61.3 on nl again, then soft 63.8, hard 64.3, soft 64.0 on nl and 72.2 on English at the end, dev "
        "agreement 87.7 % and 90.9 %, the knee at alpha 0.93 keeping 179,718 target and 196,026 source word tags; "
        "stages 1,596 s, 583 s and 1,546 s. Over seeds 42, 1 and 2 self-training without BTF adds +1.7, -0.04 and "
        "+2.7 on nl, more than after BTF with seeds 42 and 2 (the full method: +0.4, +1.5, -0.1) and less with "
        "seed 1, and above zero in 2 of 3 seeds (es: 3 of 3); the paper has +1.92 for - BTF on nl against +1.80 "
        "for the full method. The full method ends above - BTF on average (65.0 against 63.2), as in the paper "
        "(82.08 against 81.23): BTF's lead at the start (+2.7 ± 1.9) carries through.",
        "- - VM over seeds (jobs 12-14, `ROWS=no_vm SEEDS=<seed> JOB=<n>`): seed 42's run is the kept row above "
        "(fine-tuned 70.9, soft 71.7, hard 71.8, soft 71.0), read from the main table. Seed 1 (job 13, run "
        "2026-12-05 over two sessions, 15:35-16:01 and 16:10-17:10, alone on the 2 cores, resumed before its first "
        "soft step) rebuilt seed 1's nl BTF model (1,208 s for 2 epochs, dev MLM loss 6.72 -> 6.36), fine-tuned "
        "without voters to 68.7 on nl and 89.0 on English (with voters, job 4: 63.7 and 84.1), then soft 69.0, hard "
        "69.8, soft 70.0 on nl and 78.2 on English at the end, dev agreement 88.5 % and 91.3 %, the knee at alpha "
        "0.93 keeping 179,678 target and 197,131 source word tags; stages 275 s (fine-tuning), 1,439 s (soft), 512 s "
        "(hard) and 1,372 s (soft). Seed 2 (job 14, run 2026-12-05 17:09-18:53) rebuilt seed 2's nl BTF model (2,220 "
        "s for 2 epochs beside a clean-clone check, dev MLM loss 6.74 -> 6.41 as job 5's), fine-tuned without voters "
        "to 68.9 on nl and 88.9 on English (with voters, job 5: 65.7 and 86.0), then soft 68.6, hard 69.0, soft 69.9 "
        "on nl and 78.6 on English at the end, dev agreement 89.4 % and 91.7 %, the knee at alpha 0.94 keeping "
        "179,471 target and 197,671 source word tags; stages 265 s, 1,480 s, 519 s and 1,449 s. Self-training adds "
        "+0.1, +1.4 and +1.0 with seeds 42, 1 and 2, less than after the voters' fine-tuning with seeds 42 and 1 and "
        "more with seed 2 (the full method: +0.4, +1.5, -0.1), where on es it added more with every seed. - VM ends "
        "6.9, 4.8 and 4.2 above the full method, where the paper has it 0.69 below: as on es the lead is "
        "fine-tuning's (+7.2, +5.0 and +3.2 at the start), 1.4 to 3 times the seed noise of plain fine-tuning.",
    ],
    "mtop_de": [
        "Findings, MTOP de (runs of 2026-12-03; seed 42 for every row, seeds 1 and 2 too for two rows; 3,000 "
        "utterances per split, so not a test of the paper's "
        "CLS claims): with the voters the source model is weak (3 epochs on 3,000 English utterances over 100+ "
        "intents: English dev accuracy 60.9 % without BTF, 57.2 % after it), BTF costs 3.8 points on the target, and "
        "self-training on that teacher loses 15.5 more: its first soft student is under-trained (66.9 % dev "
        "agreement, still rising at epoch 10; an earlier run with 30-epoch soft steps, 2026-12-02, reached 83 % "
        "and lost 4.2 instead).",
        "- Without voters (- VM) one linear head fine-tunes to 76.5 % English dev accuracy (against 57.2 %), starts "
        "at 65.0 on the target and gains at every step: 66.5, 67.1, 67.3 (+2.3, the paper's direction), its soft "
        "students at 86 % and 92 % agreement. On this encoder and data the voters' MLP heads cost far more than "
        "they add, as on CoNLL de and the demo.",
        "- Over seeds 42, 1 and 2 that +2.3 does not hold: - VM's self-training gain is +2.3, -2.5 and -0.1 "
        "(-0.1 ± 2.4), though every seed's soft students agree with their teachers as well (85-95 %) and its hard "
        "step keeps more pseudo-intents (1,029 and 1,425 of 3,000, against seed 42's 768). Zero-shot fine-tuning "
        "alone moves 5.9 points between seeds (53.2-59.1): at 3,000 utterances a single-seed difference of a few "
        "points between rows is noise.",
        "- A fixed alpha of 0.9 (- AT) keeps no target pseudo-intent (the knee's 0.23 keeps 626), so its hard step "
        "learns from the source only; it ends level with the full method (40.3 against 39.8).",
        "- Without BTF (- BTF) the chain starts from 59.1 and loses at every step too (52.5, 49.4, 46.5).",
    ],
}
DATASETS = {  # sweep prefix -> (subsection title with the target language, metric)
    "conll": ("CoNLL NER, en -> {lang} (entity F1 %)", "slot_f1"),
    "mtop": ("MTOP intents, en -> {lang} (accuracy %; the paper: CLS sentiment)", "accuracy"),
}


def in_order(results: dict) -> list[str]:
    """The models a job scored, in step order (results.json keeps them sorted by name): finetuned, soft1, ..."""
    return sorted(results["scores"], key=lambda role: int("0" + role.lstrip("abcdefghijklmnopqrstuvwxyz")))


def last_row(results: dict) -> str:
    """The model a row ends with: its last self-training step, else the fine-tuned model."""
    return in_order(results)[-1]


def steps(what: str, job: Path, results: dict, lang: str, metric: str) -> list[str]:
    """A job's target score after each step, then each step's line: the soft steps' agreement with their teacher
    (from their stage records, so also for runs whose report predates that line) and the hard steps' notes."""
    scores = ", ".join(f"{role} {pct(results['scores'][role][lang].get(metric))}" for role in in_order(results))
    notes = {n.split(":", 1)[0]: n for n in results.get("notes", []) if n.startswith("selftrain_")}
    for done in sorted(job.glob("stages/selftrain_*_soft/done.json")):
        name, info = done.parent.name, json.loads(done.read_text())
        fitted = StageResult(info["best_epoch"], info["best_score"], info["epochs_run"], info["history"])
        notes.setdefault(name, f"{name}: {agreement(fitted)}")
    return [f"- {what}: {scores}", *(f"  - {notes[k]}" for k in sorted(notes, key=lambda k: int(k.split("_")[1])))]


def job_seed(job: Path) -> int:
    return int(OmegaConf.load(job / ".hydra" / "config.yaml").seed)


def finished_seeds(sweep: Path) -> list[int]:
    """The seeds of a sweep's finished jobs."""
    return sorted({job_seed(results.parent) for results in sweep.glob("*/results.json")})


def seeds_of(sweep: Path) -> Path:
    """Where a sweep's extra seeds are (``SEEDS=1,2 experiments/selftrain_runs.sh``)."""
    return sweep.with_name(sweep.name + "_seeds")


SPREAD_HEADER = "| row | score | self-training gain | by seed |"
SEED_RUN = re.compile(r"(\d+): (-?[\d.]+)(?: \(([+-][\d.]+)\))?")


def kept_spread(subsection: str) -> dict[str, dict[int, tuple[float, float | None]]]:
    """The runs of a kept spread table (a new checkout lost their jobs' outputs) as written: row -> seed -> (the
    last step's score, its gain over the fine-tuned model, None for a row without self-training steps)."""
    rows = kept_tables(subsection).get(SPREAD_HEADER, [])
    out: dict[str, dict[int, tuple[float, float | None]]] = {}
    for row, label in ROWS.items():
        for line in rows:
            if line.startswith(f"| {label} |"):
                runs = SEED_RUN.findall(line.rstrip(" |").rsplit(" | ", 1)[-1])
                out[row] = {int(s): (float(v), float(g) if g else None) for s, v, g in runs}
    return out


STEP_SCORE = re.compile(r"\w+ (-?[\d.]+)")


def kept_main(subsection: str, sweep: Path, lang: str) -> dict[str, dict[int, tuple[float, float | None]]]:
    """The runs of a kept main table (a new checkout lost its sweep's jobs) in ``kept_spread``'s form, under the seed
    its seeds sentence names: a row with per-step lines scores its last step and gains it over its first."""
    match = SEEDS_SENTENCE.search(subsection)
    if match is None:
        return {}
    seed = int(match.group(1) or match.group(2))
    out: dict[str, dict[int, tuple[float, float | None]]] = {}
    for row, written in kept_rows(subsection, main_header(sweep), lang).items():
        scores = [float(v) for v in STEP_SCORE.findall("".join(written["steps"][:1]).partition(": ")[2])]
        value = written["table"][0].split(" | ")[1].split(" ")[0]  # "—" when unscored, "63.4 !" when flagged
        if scores:
            out[row] = {seed: (scores[-1], scores[-1] - scores[0])}
        elif re.fullmatch(r"-?[\d.]+", value):
            out[row] = {seed: (float(value), None)}
    return out


def spread(sweep: Path, lang: str, metric: str, kept: str = "") -> list[str]:
    """Each row's target score over the seeds of a sweep and its ``_seeds`` sweep, mean ± sample std, and for rows
    with self-training steps the gain of the steps over the row's own fine-tuned model, paired by seed (empty when
    no row has two seeds). Runs whose outputs are gone but the ``kept`` subsection lists enter as written there, to
    its 0.1 points: those of its spread, else its main table's (the sweep's own seed)."""
    runs: dict[str, dict[int, tuple[float, float]]] = {}  # row -> seed -> (fine-tuned, last step)
    stepped = set()  # rows with self-training steps
    for written in (kept_main(kept, sweep, lang), kept_spread(kept)):
        for row, by_seed in written.items():
            for seed, (last, gain) in by_seed.items():
                runs.setdefault(row, {})[seed] = (last - (gain or 0.0), last)
                if gain is not None:
                    stepped.add(row)
    for results in [*sweep.glob("*/results.json"), *seeds_of(sweep).glob("*/results.json")]:
        row, res = row_of(results.parent, "st_row"), json.loads(results.read_text())
        order = in_order(res)
        first, last = (res["scores"][role][lang].get(metric) for role in (order[0], order[-1]))
        if row is not None and first is not None and last is not None:
            seed = job_seed(results.parent)
            runs.setdefault(row, {})[seed] = (100 * first, 100 * last)
            if len(order) > 1:
                stepped.add(row)
    if all(len(by_seed) < 2 for by_seed in runs.values()):
        return []
    lines = [
        "",
        f"Spread over seeds, {lang} (mean ± sample std of the target test score; the self-training gain is the last "
        "step's score minus the row's fine-tuned model's, paired by seed; by seed: each seed's score, and its gain "
        "in brackets):",
        "",
        SPREAD_HEADER,
        "|---|---|---|---|",
    ]
    for row, label in ROWS.items():
        by_seed = runs.get(row, {})
        if len(by_seed) < 2:
            continue
        gains = {seed: last - first for seed, (first, last) in by_seed.items()}
        n_up = sum(g > 0 for g in gains.values())
        gain = f"{mean_std(list(gains.values()))} (> 0 in {n_up} of {len(gains)})" if row in stepped else "—"
        each = "; ".join(
            f"{seed}: {by_seed[seed][1]:.1f}" + (f" ({gains[seed]:+.1f})" if row in stepped else "")
            for seed in sorted(by_seed)
        )
        lines.append(f"| {label} | {mean_std([last for _, last in by_seed.values()])} | {gain} | {each} |")
    return lines


def seed_lines(sweep: Path, lang: str, metric: str, kept: str = "") -> list[str]:
    """The spread over seeds of a sweep and its ``_seeds`` sweep (and the ``kept`` subsection's runs they lack),
    then the findings on it (none: no spread; they start "Findings over seeds, ", which is how a rewrite finds
    them)."""
    lines = spread(sweep, lang, metric, kept)
    findings = FINDINGS.get(seeds_of(sweep).name, [])
    return [*lines, "", *findings] if lines and findings else lines


def kept_tables(subsection: str) -> dict[str, list[str]]:
    """A written subsection's tables: header line -> its row lines."""
    tables: dict[str, list[str]] = {}
    header = None
    for line in subsection.split("\n"):
        if line.startswith("| row |"):
            header = line
            tables[header] = []
        elif header is not None and line.startswith("|") and not line.startswith("|---"):
            tables[header].append(line)
        elif not line.startswith("|"):
            header = None
    return tables


def kept_rows(subsection: str, header: str, lang: str) -> dict[str, dict[str, list[str]]]:
    """The rows of a kept subsection (its sweep's earlier jobs' outputs are gone) as written: row -> its line in the
    main table, its per-step lines and its wall-time line."""
    tables = kept_tables(subsection)
    lines = subsection.split("\n")
    out: dict[str, dict[str, list[str]]] = {}
    for row, label in ROWS.items():
        mine = [line for line in tables.get(header, []) if line.startswith(f"| {label} |")]
        if not mine:
            continue
        start = next((i for i, line in enumerate(lines) if line.startswith(f"- {lang}, {label}: ")), None)
        steps_ = []
        if start is not None:
            steps_ = [lines[start]]
            for line in lines[start + 1 :]:
                if not line.startswith("  - "):
                    break
                steps_.append(line)
        wall = [line for line in tables.get(WALL_HEADER, []) if line.startswith(f"| {label} |")]
        out[row] = {"table": mine, "steps": steps_, "wall": wall}
    return out


def target(sweep: Path) -> tuple[str, str]:
    """A sweep's dataset and target language, from its folder name (``conll_es``; a seeds sweep's ``conll_es_seeds``
    names its base sweep's)."""
    dataset, lang = sweep.name.removesuffix("_seeds").split("_", 1)
    return dataset, lang


def main_header(sweep: Path) -> str:
    """The header of a sweep's main table: the target language, and the paper's mBERT rows beside CoNLL's."""
    prefix, lang = target(sweep)
    return f"| row | {lang} |" + (" paper (mBERT) |" if prefix == "conll" else "")


WALL_HEADER = "| row | stages (seconds, epochs) |"


def table(sweep: Path, metric: str, kept: str | None = None) -> list[str]:
    """One sweep's rows beside the paper's (CoNLL), each row's steps, the probes, the findings and wall times; rows
    of the ``kept`` subsection that the sweep's outputs lack stay as written there."""
    found = jobs(sweep, "st_row")
    if not found:
        return []
    prefix, lang = target(sweep)
    paper = prefix == "conll"
    header = main_header(sweep)
    old = {row: v for row, v in kept_rows(kept or "", header, lang).items() if row not in found}
    lines = [header, "|---" * (2 + paper) + "|"]
    for row, label in ROWS.items():
        job = found.get(row)
        if job is None:
            lines += old.get(row, {}).get("table", [])
            continue
        res = job["results"]
        value = res["scores"][last_row(res)][lang].get(metric)
        flagged = lang in res.get("flags", {}).get(last_row(res), {})
        lines.append(
            f"| {label} | {pct(value)}{' !' if flagged else ''} |" + (f" {PAPER[row][lang]:.2f} |" if paper else "")
        )
    per_step = []
    for row, label in ROWS.items():
        job = found.get(row)
        if job is not None and len(job["results"]["scores"]) > 1:
            per_step += steps(f"{lang}, {label}", job["dir"], job["results"], lang, metric)
        per_step += old.get(row, {}).get("steps", [])
    for run in sorted(PROBES.glob(f"{sweep.name}_*/results.json")):
        cfg = OmegaConf.load(run.parent / ".hydra" / "config.yaml")
        soft, hard = cfg.method.step_trainer.soft.epochs, cfg.method.step_trainer.hard.epochs
        what = f"{lang}, full method with soft steps of {soft} epochs and hard ones of {hard} (a probe)"
        per_step += steps(what, run.parent, json.loads(run.read_text()), lang, metric)
    if per_step:
        lines += [
            "",
            "Per step (target test score after each step; each soft step's dev agreement with its teacher, each "
            "hard step's alpha and kept):",
            *per_step,
        ]
    lines += seed_lines(sweep, lang, metric, kept or "")
    lines += ["", *FINDINGS.get(sweep.name, []), ""]
    walls = {line.split(" | ")[0]: line for line in wall_times(found, ROWS)[2:]}
    walls.update({f"| {ROWS[row]}": v["wall"][0] for row, v in old.items() if v["wall"]})
    wall = [walls[f"| {label}"] for label in ROWS.values() if f"| {label}" in walls]
    return [*lines, f"Wall times, {lang}:", "", WALL_HEADER, "|---|---|", *wall, ""]


# The changes to the stage-building code (distillx.store.BUILDING_CODE) since the oldest code whose stages the tables
# read, in commit order, each with why it leaves what a self-training stage computes as it was.
CODE_CHANGES = [
    (
        "4db4ce9",
        "the LR range test's guard for pre-trained models: the range test never runs in self-training's stages (it "
        "is limited to `trainer.lr_range_test.stages`)",
    ),
    ("ab2c152", "MBLM's attention-mask call: MBLM is not a self-training model"),
    (
        "9145507",
        "stage keys name the torch / transformers / tokenizers versions: what is keyed, not what a stage computes "
        "(the es, nl and MTOP stages before it were built under torch 2.13.0, transformers 5.24.0, tokenizers 0.23.3, "
        "the versions constraints.txt pins)",
    ),
    (
        "b19c92d",
        "build-once caches key on those versions too, and a skipped first step no longer warns: keys and a "
        "warning, not what a stage computes",
    ),
]
# Stage code fingerprints other than the current one that built stages the tables read: the commit, and the index
# in CODE_CHANGES of the first change after it (a sweep's line names the code that built its stages and them).
EQUIVALENT_CODE = {"587e5f8ea8431020": ("f19733c", 0), "0b7a8b2ffcc7f165": ("65cb5c5", 1)}


def equivalence(code: str) -> str:
    commit, first = EQUIVALENT_CODE[code]
    since = "; ".join(f"{why} ({change})" for change, why in CODE_CHANGES[first:])
    return f"{code} (commit {commit}; the current code differs from it by {since})"


def built_codes(sweep: Path) -> set[str]:
    """The code fingerprints that built the stages of a sweep, its extra seeds and its probes."""
    keys = [
        *sweep.glob("*/stages/*/key.json"),
        *seeds_of(sweep).glob("*/stages/*/key.json"),
        *PROBES.glob(f"{sweep.name}_*/stages/*/key.json"),
    ]
    return {json.loads(k.read_text())["code"] for k in keys}


def code_statement(codes: set[str]) -> str:
    current = code_fingerprint(BUILDING_CODE)
    if codes <= {current}:
        return f"Stages built by the current code ({current})."
    named = [equivalence(c) for c in sorted(codes - {current}) if c in EQUIVALENT_CODE]
    unknown = sorted(codes - {current} - set(EQUIVALENT_CODE))
    parts = ["Stages built by code " + "; ".join(named) + "."] if named else []
    parts += [f"Stages built by other code ({', '.join(unknown)}): rerun them."] if unknown else []
    parts += [f"The others by the current code ({current})."] if current in codes else []
    return " ".join(parts)


STATEMENT = re.compile(r"Stages built by (?:the current code|code|other code) .*$", re.MULTILINE)


def restated(subsection: str, also: set[str] = frozenset()) -> str:
    """A kept subsection (its sweep's outputs are not here) with its code statement as of the current code: the code
    that built it is the fingerprints it names (and ``also``, the code of stages added to it since), and what the
    current code differs from it by has grown since."""
    match = STATEMENT.search(subsection)
    if match is None:
        return subsection
    codes = set(re.findall(r"\b[0-9a-f]{16}\b", match.group(0))) | set(also)
    return subsection[: match.start()] + code_statement(codes) + subsection[match.end() :]


SEEDS_SENTENCE = re.compile(r"One seed \((\d+)\)\.|Seed (\d+); seeds [\d, ]+ too in the spread below\.")


def with_seeds(subsection: str, sweep: Path, lang: str, metric: str) -> str:
    """A kept subsection (its sweep's outputs are gone) with the spread over seeds of its ``_seeds`` sweep, which is
    here (e.g. seeds 42, 1 and 2 of the cheap rows rerun in a new checkout): the seeds its settings name, the spread
    block and the findings on it (replacing any earlier ones), the code that built the new stages, and the
    ``_seeds`` sweep's reproduce line."""
    seeds = seeds_of(sweep)
    match = SEEDS_SENTENCE.search(subsection)
    if match is not None:
        base = int(match.group(1) or match.group(2))
        named = [int(seed) for seed in re.findall(r"\d+", match.group(0))[1:]]  # seeds whose outputs may be gone
        extra = sorted({*named, *finished_seeds(seeds)} - {base})
        sentence = f"Seed {base}; seeds {', '.join(map(str, extra))} too in the spread below." if extra else ""
        subsection = subsection[: match.start()] + (sentence or match.group(0)) + subsection[match.end() :]
    codes = {json.loads(k.read_text())["code"] for k in seeds.glob("*/stages/*/key.json")}
    paras = restated(subsection, codes).split("\n\n")
    earlier = ("Spread over seeds, ", "| row | score |", "Findings over seeds, ")  # the block seed_lines wrote
    *body, last = [p for p in paras if not p.startswith(earlier)]
    reproduce_lines = [line for line in last.split("\n") if "SEEDS=" not in line] + [seeds_reproduce(sweep, subsection)]
    block = "\n".join(seed_lines(sweep, lang, metric, subsection)).strip("\n").split("\n\n")
    at = next((i for i, p in enumerate(body) if p.startswith(("Findings", "Wall times"))), len(body))
    return "\n\n".join([*body[:at], *(b for b in block if b), *body[at:], "\n".join(reproduce_lines)])


def kept_line(kept: str | None, seeded: bool) -> str:
    """The ``kept`` subsection's reproduce line of the sweep (``seeded``: of its ``_seeds`` sweep); "" when none."""
    lines = (kept or "").split("\n")
    return next((x for x in lines if x.startswith("Reproduce: `") and ("SEEDS=" in x) == seeded), "")


def finished(sweep: Path) -> list[Path]:
    """The results.json of a sweep's finished jobs, in job order."""
    return sorted(sweep.glob("*/results.json"), key=lambda r: int(r.parent.name))


def job_order(sweep: Path, line: str, default: list[str]) -> tuple[list[str], list[int]]:
    """The rows and seeds that number a sweep's jobs: those of ``line`` (the kept reproduce line; a new checkout may
    have lost their jobs' outputs) first, in their order (its rows ``default`` when it names none), then the ones
    the sweep's jobs add; a job numbered apart from its place among them stops with what to do."""
    named_rows, named_seeds = re.search(r"ROWS=([\w,]+)", line), re.search(r"SEEDS=([\d,]+)", line)
    rows = named_rows.group(1).split(",") if named_rows else list(default)
    seeds = [int(seed) for seed in named_seeds.group(1).split(",")] if named_seeds else []
    done = finished(sweep)
    rows += [row for row in configs(sweep) if row not in rows]
    seeds += [seed for seed in dict.fromkeys(job_seed(r.parent) for r in done) if seed not in seeds]
    seeded = sweep.name.endswith("_seeds")
    for results in done:
        row, seed = row_of(results.parent, "st_row"), job_seed(results.parent)
        number = rows.index(row) * len(seeds) + seeds.index(seed)
        if results.parent.name != str(number):
            which, knobs = (f" with seed {seed}", f" SEEDS={seed}") if seeded else ("", "")
            listed = f"ROWS={','.join(rows)}" + (f" SEEDS={','.join(map(str, seeds))}" if seeded else "")
            raise SystemExit(
                f"{results.parent}: row {row}{which} is job {number} of the {'seeds ' * seeded}sweep RESULTS.md "
                f"keeps ({listed}): rerun it with JOB={number} ROWS={row}{knobs}"
            )
    return rows, seeds


def seeds_reproduce(sweep: Path, kept: str | None) -> str:
    """The reproduce line of a sweep's ``_seeds`` sweep, its jobs numbered by the ``kept`` line's rows and seeds."""
    seeds, line = seeds_of(sweep), kept_line(kept, seeded=True)
    return reproduce(seeds, *job_order(seeds, line, [])) if line else reproduce(seeds)


def configs(sweep: Path) -> dict[str, DictConfig]:
    """Row -> config of a sweep's finished jobs, in job order (the order ROWS must list them in to add rows)."""
    done = finished(sweep)
    return {row_of(r.parent, "st_row"): OmegaConf.load(r.parent / ".hydra" / "config.yaml") for r in done}


def settings(sweep: Path) -> str:
    """What a sweep ran with, read from its full-method job's config, else its first job's (the rows differ only by
    their ablation switches and, at most, their threads, named per row when they differ)."""
    by_row = configs(sweep)
    cfg = by_row.get("full") or next(iter(by_row.values()), None)
    if cfg is None:
        return ""
    threads = {row: c.trainer.threads for row, c in by_row.items()}
    if len(set(threads.values())) > 1:
        per_job = "threads per job: " + ", ".join(f"{row} {n}" for row, n in threads.items())
    else:
        per_job = f"{cfg.trainer.threads} thread(s) per job"
    extra = [seed for seed in finished_seeds(seeds_of(sweep)) if seed != cfg.seed]
    seeds = (
        f"Seed {cfg.seed}; seeds {', '.join(map(str, extra))} too in the spread below."
        if extra
        else f"One seed ({cfg.seed})."
    )
    limit = cfg.split.limit
    data = "every utterance of every split" if limit is None else f"the first {limit} utterances of every split"
    lr, scale, steps = float(cfg.mplm.lr), cfg.method.lr_scale, cfg.method.step_trainer
    schedule = f"schedule [{', '.join(cfg.method.schedule)}], " if cfg.method.schedule else ""  # none: no ST row
    return (
        f"Data: {data} per language, the target train split as the unlabeled target text (the paper: 60k "
        f"Wikipedia sentences with the source's entities for CoNLL), `trainer=paper` with {cfg.trainer.epochs} "
        f"epochs of fine-tuning, self-training steps of {steps.soft.epochs} (soft) and {steps.hard.epochs} "
        f"(hard) epochs (the paper: 10 each), {per_job}, BTF "
        f"{cfg.method.btf.trainer.epochs} epochs at LR {cfg.method.btf.lr:g} "
        f"with the embeddings and {cfg.method.btf.frozen_layers} bottom layers frozen, {schedule}learning rates "
        f"{lr * scale.soft:.3g} (soft) and "
        f"{lr * scale.hard:.3g} (hard) (the paper's 3e-5 and 1e-6 scaled to the mPLM's {lr:g}: e5-small "
        f"learns NER too slowly at 3e-5 for a few epochs, see `experiments/selftrain_runs.sh`), voters of the "
        f"encoder's width plus {list(cfg.method.voters.offsets)}. {seeds}"
    )


RUNS = ROOT / "experiments" / "selftrain_runs.sh"


def script_defaults() -> dict[str, str]:
    """The run script's knobs with a default (``${NAME:-default}``): a reproduce line names only those it changes."""
    return dict(re.findall(r"\$\{(\w+):-([^}]*)\}", RUNS.read_text(encoding="utf-8")))


def changed(value: object, default: str | None) -> bool:
    """Whether a knob must be named to get ``value``: None is never named (the script's default, or unset), a
    script default is compared as a number where it is one."""
    if value is None or default is None:
        return value is not None
    if default == "null":
        return True
    try:
        return float(value) != float(default)
    except ValueError:
        return str(value) != default


def reproduce(sweep: Path, rows: list[str] | None = None, seeds: list[int] | None = None) -> str:
    """The `experiments/selftrain_runs.sh` line that rebuilds a sweep, from its jobs' configs (rows and seeds in job
    order, or ``rows`` and ``seeds``): the epochs always, every other knob where it differs from the script's
    default."""
    by_row = configs(sweep)
    cfg = next(iter(by_row.values()))
    prefix, lang = target(sweep)
    steps, defaults = cfg.method.step_trainer, script_defaults()
    done = finished(sweep)
    seeds = seeds or list(dict.fromkeys(job_seed(r.parent) for r in done))  # in job order: a rerun numbers alike
    knobs = {
        "EPOCHS": cfg.trainer.epochs,
        "LIMIT": cfg.split.limit,
        "LR": float(cfg.mplm.lr),
        "SOFT_EPOCHS": steps.soft.epochs,
        "HARD_EPOCHS": steps.hard.epochs,
        "LANGUAGES": lang if prefix == "conll" else "",
        "MTOP": 0 if prefix == "conll" else None,
        "ROWS": ",".join(rows or by_row),
        "SEEDS": ",".join(map(str, seeds)) if sweep.name.endswith("_seeds") else None,
    }
    shown = {k: v for k, v in knobs.items() if k == "EPOCHS" or changed(v, defaults.get(k))}
    env = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())
    threads: dict[int, list[str]] = {}
    for row, c in by_row.items():
        threads.setdefault(c.trainer.threads, []).append(row)
    if len(threads) == 1:
        return f"Reproduce: `THREADS={cfg.trainer.threads} {env} experiments/selftrain_runs.sh` (rerun to resume)."
    split = "; ".join(f"THREADS={n} for {', '.join(rows)}" for n, rows in threads.items())
    return f"Reproduce: `{env} experiments/selftrain_runs.sh` ({split}; rerun to resume)."


def default_rows() -> list[str]:
    """The rows of a sweep run without ROWS, in job order (the experiment's sweep)."""
    experiment = OmegaConf.load(ROOT / "conf" / "experiment" / "selftrain_ablations.yaml")
    return str(experiment.hydra.sweeper.params["+st_row"]).split(",")


def subsection(sweep: Path, head: str, metric: str, kept: str | None) -> str | None:
    """A sweep's subsection from its outputs; rows the outputs lack but ``kept`` (the subsection as last written)
    has stay as written, when the jobs here ran with the kept rows' settings, as the same jobs of the same sweep
    (e.g. a row added with ``JOB=<n>`` after a new checkout lost the earlier jobs' outputs)."""
    lines = table(sweep, metric, kept)
    if not lines:
        return None
    lang = target(sweep)[1]
    header = lines[0]
    done = configs(sweep)
    old = [row for row in kept_rows(kept or "", header, lang) if row not in done]
    mine, codes, rows = settings(sweep), built_codes(sweep), list(done)
    if old:
        theirs = STATEMENT.split(kept.split("\n\n")[1])[0].strip()
        if SEEDS_SENTENCE.sub("", theirs) != SEEDS_SENTENCE.sub("", mine):
            raise SystemExit(
                f"{sweep}: its jobs ran with other settings than the rows RESULTS.md keeps for {head!r} "
                f"({', '.join(old)}): rerun them with the kept rows' settings, or remove that subsection to start anew"
            )
        codes |= set(re.findall(r"\b[0-9a-f]{16}\b", STATEMENT.search(kept).group(0)))
        rows, _ = job_order(sweep, kept_line(kept, seeded=False), default_rows())
    more = [seeds_reproduce(sweep, kept)] if configs(seeds_of(sweep)) else []
    return "\n".join([head, "", f"{mine} {code_statement(codes)}".strip(), "", *lines, reproduce(sweep, rows), *more])


def subsections(results_md: Path) -> dict[str, str]:
    """The section's current ``### `` subsections in RESULTS.md, by heading: kept for sweeps not in outputs/."""
    parts = (read_section(results_md, HEADING) or "").split("\n### ")[1:]
    return {"### " + p.split("\n", 1)[0]: "### " + p.rstrip("\n").split("\n\nReproduce the section:")[0] for p in parts}


def rank(head: str) -> tuple[int, str]:
    """Subsections in DATASETS' order, then by heading (so by language)."""
    titles = [title.split("{")[0] for title, _ in DATASETS.values()]
    return next((i for i, t in enumerate(titles) if head.startswith("### " + t)), len(titles)), head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the section in benchmarks/RESULTS.md")
    args = parser.parse_args()
    blocks = [HEADING, ""]
    blocks.append(
        "mPLM: the offline multilingual-e5-small (the paper: mBERT cased). e5-small has no trained MLM head: BTF "
        "trains a new one (decoder tied to the input embeddings) beside the encoder. Wall times on the 2-core CPU. "
        "One subsection per sweep (`outputs/selftrain/<dataset>_<language>`), written from its outputs; a sweep "
        "whose outputs are not on this machine keeps its subsection as last written, with the code that built it."
    )
    kept = subsections(ROOT / "benchmarks" / "RESULTS.md")
    written = {}
    for prefix, (title, metric) in DATASETS.items():
        for sweep in sorted(p for p in SWEEPS.glob(f"{prefix}_*") if p.is_dir() and not p.name.endswith("_seeds")):
            head = "### " + title.format(lang=target(sweep)[1])
            text = subsection(sweep, head, metric, kept.get(head))
            if text:
                written[head] = text
    for prefix, (title, metric) in DATASETS.items():
        for seeds in sorted(SWEEPS.glob(f"{prefix}_*_seeds")):
            sweep = seeds.with_name(seeds.name.removesuffix("_seeds"))
            lang = target(sweep)[1]
            head = "### " + title.format(lang=lang)
            if head in kept and head not in written and configs(seeds):
                written[head] = with_seeds(kept[head], sweep, lang, metric)
    order = sorted({*kept, *written}, key=rank)
    for head in order:
        blocks += ["", written.get(head) or restated(kept[head])]
    blocks += [
        "",
        "Reproduce the section: each subsection's command, from the repository root (rerun to resume), the probe "
        "with `distillx method=selftrain +st_row=full`, the de sweep's overrides and "
        "`method.step_trainer.soft.epochs=30 hydra.run.dir=outputs/selftrain_probe/conll_de_soft30`, then "
        "`.venv/bin/python experiments/selftrain_tables.py --write`.",
    ]
    publish(blocks, HEADING, args.write)


if __name__ == "__main__":
    main()
