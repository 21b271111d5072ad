// Package match compares fingerprint minutiae templates (see the template
// sub-package for the ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 codecs)
// for the gate's 1:1 verification: the card names the user, and the probe
// captured at the gate is compared with each enrolled finger of that user.
//
// # Algorithm
//
// This is a first, deliberately simple matcher, to be replaced by a Minutia
// Cylinder-Code (MCC) matcher. It is pure and deterministic and does no I/O.
//
//  1. Prepare scales minutiae to 500 dpi using the template's resolution,
//     flips Y so that angles are ordinary counter-clockwise angles, and builds
//     for each minutia a local structure: its 8 nearest neighbours between
//     8 and 160 px, each described by distance, direction of the edge relative
//     to the minutia's direction, and the neighbour's direction relative to
//     the minutia's direction. These are invariant to rotation and translation.
//  2. Score compares every probe minutia with every candidate minutia by
//     their local structures (neighbours matched one to one within 10 px + 10%
//     and 22°) and keeps the 24 most similar pairs, with at least 2 agreeing
//     neighbours, as seeds.
//  3. Each seed and its agreeing neighbours give a rigid alignment (least
//     squares on positions and directions). Under it, all probe minutiae are
//     paired one to one, closest first, with candidate minutiae within 16 px
//     and 25°; the alignment is re-estimated from the pairs twice.
//  4. The score of an alignment is W²/(Np·Nc): W sums a weight per pair that
//     is 1 for a perfect pair and falls quadratically to 0 at the tolerances;
//     Np and Nc count the minutiae of each view inside the other's convex hull
//     (the overlap), but at least 15, so a small overlap cannot score high.
//     The result is in [0, 1]; Score returns the best over the seeds and
//     compares the two views in a canonical order, so it is symmetric.
//
// Matcher.Verify takes the best score over all finger views of the probe and
// of the enrolled templates and compares it with the threshold.
//
// # Limits
//
//   - DefaultThreshold is NOT calibrated to a false match rate: the shared
//     test data holds only four distinct real finger views as templates (and
//     sourceafis-iso-matching.dat is byte-identical to
//     sourceafis-iso-probe.dat), so the threshold sits between synthetic
//     genuine and impostor distributions. Calibrate it with cmd/gatebench on
//     real captures before production.
//   - Distortion is handled only by the tolerances: the alignment is rigid,
//     so strongly distorted or very partial captures lose pairs far from the
//     aligned region. Scale differences other than those stated in the
//     resolution fields are not handled.
//   - Minutia type and quality are ignored (endings and bifurcations are
//     often swapped by extractors); ridge counts, cores and deltas in the
//     extended data are not used.
//   - Nearest-neighbour structures are sensitive to missing and spurious
//     minutiae near a seed; trying 24 seeds makes up for much of it.
//   - Cost is O(n·m·k²) for the seeds plus O(seeds·n·m) for consolidation:
//     tens to a few hundred microseconds for typical templates.
package match
