package extract

// Word is one recognised word with its OCR confidence (0..100; words from a
// PDF text layer are 100). The "text" helper owns this type; it lives here
// only so the fields code compiles alone and is removed on merge.
type Word struct {
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
}
