package trends

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vanta-ledger/vanta/internal/alerts"
)

// Bounds on what a series may be: the history is a fixed-size thing, not
// a place for whatever a source emits.
const (
	// MaxLabels is the most labels one series may carry.
	MaxLabels = 8
	// MaxLabelValue is the longest label value, in bytes.
	MaxLabelValue = 200
	// DefaultMaxSeries is how many distinct series the history keeps at
	// most; samples of new series beyond it are dropped (and counted).
	DefaultMaxSeries = 2000
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,99}$`)

// InvalidSeriesError says why a sample's series cannot be recorded.
type InvalidSeriesError struct {
	Series string
	Reason string
}

func (e *InvalidSeriesError) Error() string {
	return fmt.Sprintf("trends: series %q: %s", e.Series, e.Reason)
}

// SeriesKey is a series' identity: its name and its labels in canonical
// order, `name{a="x",b="y"}` (just `name` without labels). Label values
// are quoted, so no two label sets share a key.
func SeriesKey(name string, labels map[string]string) (string, error) {
	if !nameRE.MatchString(name) {
		return "", &InvalidSeriesError{Series: name, Reason: "the name must be snake_case, at most 100 characters"}
	}
	if len(labels) > MaxLabels {
		return "", &InvalidSeriesError{Series: name, Reason: fmt.Sprintf("%d labels, at most %d", len(labels), MaxLabels)}
	}
	if len(labels) == 0 {
		return name, nil
	}
	names := make([]string, 0, len(labels))
	for k, v := range labels {
		if !nameRE.MatchString(k) {
			return "", &InvalidSeriesError{Series: name, Reason: fmt.Sprintf("label name %q must be snake_case", k)}
		}
		if len(v) > MaxLabelValue {
			return "", &InvalidSeriesError{Series: name, Reason: fmt.Sprintf("label %s is longer than %d bytes", k, MaxLabelValue)}
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String(), nil
}

// checkSample is SeriesKey plus a finite value.
func checkSample(s alerts.Sample) (string, error) {
	key, err := SeriesKey(s.Series, s.Labels)
	if err != nil {
		return "", err
	}
	if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
		return "", &InvalidSeriesError{Series: key, Reason: "the value is not a finite number"}
	}
	return key, nil
}
