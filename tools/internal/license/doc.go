// Package license recognizes the permissive open-source licences that gonbd
// accepts in its dependencies, by their text.
//
// Recognition is by phrases each licence cannot be without, after folding
// case, punctuation and line breaks, so copyright lines and reflowed
// paragraphs do not matter. It is deliberately conservative: text that is
// not recognized, or that also carries a copyleft or advertising clause,
// is not accepted, and a person must look at it.
package license
