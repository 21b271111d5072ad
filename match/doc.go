// Package match compares fingerprint minutiae templates (see the template
// sub-package for the ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 codecs)
// for the gate's 1:1 verification: the card names the user, and the probe
// captured at the gate is compared with each enrolled finger of that user.
// Images are turned into templates by the extract sub-package. It is pure
// and deterministic and does no I/O. docs/matcher.md explains the choices
// and gives the measured figures.
//
// # Algorithm
//
// Minutia Cylinder-Code (Cappelli, Ferrara, Maltoni, "Minutia
// Cylinder-Code: a new representation and matching technique for
// fingerprint recognition", IEEE TPAMI 32(12), 2010), bit-based with 8x8
// cells (MCC8b), with the paper's other parameters:
//
//  1. Prepare scales minutiae to 500 dpi using the record's resolution
//     fields and builds, for every minutia, a cylinder: an 8x8 grid of
//     cells (17.5 px, 52 of them within the disc of radius 70 px) in the
//     minutia's own frame, times 6 direction sections, one 64-bit word per
//     section. A cell's bit is set where neighbouring minutiae (Gaussian in
//     space, σS = 28/3 px, and in relative direction, σD = 2π/9) contribute
//     at least μΨ = 0.01. Cells farther than 50 px outside the convex hull
//     of the minutiae are invalid; a cylinder with fewer than 75% valid
//     cells or fewer than 2 neighbours is dropped. Cylinders are invariant
//     to rotation and translation and tolerate distortion locally.
//     Cylinders are sorted by their minutia's direction.
//  2. Score compares every cylinder of one view with the cylinders of the
//     other whose minutia direction differs by at most 90° (a contiguous
//     run of the sorted cylinders): 1 - ‖a⊕b‖/(‖a‖+‖b‖) over the cells valid
//     in both (at least 60% of a disc), computed with popcounts. The 6 best
//     candidates of each cylinder are kept.
//  3. Global consolidation, LSS-R: the min(nA, nB) best pairs are chosen one
//     to one; 5 relaxation steps reinforce each pair by the pairs that are
//     geometrically compatible with it (distance, relative direction and
//     edge direction agreement, sigmoids of the paper), the support being
//     averaged over at least 10 pairs so that tiny views gain nothing from
//     a couple of chance agreements; the nP pairs (4 to 12, growing with the
//     views' size) that best kept their similarity are averaged, divided by
//     nP. Views of fewer than 20 cylinders are then scaled by how much of
//     their common area's minutiae pair after a rigid alignment.
//  4. Orientation-field fusion: the ridge flow stored by the extractor is
//     compared under the alignments of the 3 best supported pairs and adds
//     up to 0.3 (orientfield.go). A comparison without field evidence is
//     scored on its minutiae alone, put on the same scale by its own
//     calibration. The result is in [0, 1] and symmetric.
//
// Matcher.Verify prepares the probe once and takes the best score over all
// finger views of the enrolled templates; VerifyPrepared takes views
// prepared beforehand.
//
// # Thresholds
//
// Scores are not probabilities. ThresholdForFMR maps a target false match
// rate to a threshold from a calibration table measured with
// `gatebench match --calibrate` on real images; DefaultThreshold is the one
// for 1e-4. See docs/matcher.md for how much data the table rests on.
//
// # Limits
//
//   - Rotations beyond about ±90° between probe and enrolment do not match
//     (MCC's δθ): a reader's finger guide prevents them.
//   - Scale differences other than those stated in the resolution fields are
//     handled only by the tolerances.
//   - Minutia type and quality are ignored (extractors swap endings and
//     bifurcations); ridge counts, cores and deltas in the extended data are
//     not used. The one extended data area used is ttpgate's orientation
//     field (template.OrientationField, written by match/extract): see
//     "Orientation-field fusion" in orientfield.go. Extended data the
//     matcher cannot read is ignored, never an error.
package match
