package supervisor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LogLine is one line a program wrote.
type LogLine struct {
	Time    time.Time `json:"time"`
	Program string    `json:"program"`
	Stream  string    `json:"stream"` // stdout or stderr
	Line    string    `json:"line"`
}

// LogConfig says where program output goes besides the shared JSON stream.
type LogConfig struct {
	Dir       string // one <program>.log per program; empty: no files
	MaxBytes  int64  // rotate a file past this size; default 10 MiB
	MaxFiles  int    // rotated files kept (<program>.log.1 …); default 3
	TailLines int    // lines kept in memory per program; default 1000
}

func (c *LogConfig) withDefaults() {
	if c.MaxBytes == 0 {
		c.MaxBytes = 10 << 20
	}
	if c.MaxFiles == 0 {
		c.MaxFiles = 3
	}
	if c.TailLines == 0 {
		c.TailLines = 1000
	}
}

// jsonWriter serialises whole JSON lines from many goroutines onto one
// writer (our stdout), so that `docker logs` shows every program's output.
type jsonWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonWriter) Write(p []byte) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.w.Write(p)
}

func (j *jsonWriter) line(l LogLine) {
	b, err := json.Marshal(l)
	if err != nil {
		return
	}
	_, _ = j.Write(append(b, '\n'))
}

// programLog keeps one program's recent lines, appends them to a
// size-rotated file and feeds followers.
type programLog struct {
	name string
	cfg  LogConfig
	out  *jsonWriter

	mu        sync.Mutex
	ring      []LogLine
	next      int // ring write position
	full      bool
	file      *os.File
	size      int64
	followers map[chan LogLine]struct{}
}

func newProgramLog(name string, cfg LogConfig, out *jsonWriter) *programLog {
	return &programLog{
		name:      name,
		cfg:       cfg,
		out:       out,
		ring:      make([]LogLine, cfg.TailLines),
		followers: make(map[chan LogLine]struct{}),
	}
}

// capture returns the write end of a pipe whose lines are recorded under
// stream, for handing to a child as its stdout or stderr.
func (l *programLog) capture(stream string) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("log pipe for %s %s: %w", l.name, stream, err)
	}
	go func() {
		defer r.Close()
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			// ReadSlice caps a line at the buffer size, so a program
			// that never writes a newline cannot grow our memory.
			chunk, err := br.ReadSlice('\n')
			if len(chunk) > 0 {
				text := string(chunk)
				if text[len(text)-1] == '\n' {
					text = text[:len(text)-1]
				}
				l.record(LogLine{Time: time.Now().UTC(), Program: l.name, Stream: stream, Line: text})
			}
			if err != nil && err != bufio.ErrBufferFull {
				return
			}
		}
	}()
	return w, nil
}

func (l *programLog) record(line LogLine) {
	l.out.line(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ring[l.next] = line
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
	l.appendToFile(line)
	for ch := range l.followers {
		select {
		case ch <- line:
		default: // a follower too slow to keep up loses lines, never blocks the program
		}
	}
}

func (l *programLog) appendToFile(line LogLine) {
	if l.cfg.Dir == "" {
		return
	}
	if l.file == nil {
		if err := os.MkdirAll(l.cfg.Dir, 0o700); err != nil {
			return
		}
		path := filepath.Join(l.cfg.Dir, l.name+".log")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return
		}
		st, _ := f.Stat()
		l.file, l.size = f, st.Size()
	}
	n, _ := fmt.Fprintf(l.file, "%s %s %s\n", line.Time.Format(time.RFC3339Nano), line.Stream, line.Line)
	l.size += int64(n)
	if l.size >= l.cfg.MaxBytes {
		l.rotate()
	}
}

// rotate shifts <name>.log → .1 → .2 …, dropping the oldest.
func (l *programLog) rotate() {
	l.file.Close()
	l.file = nil
	base := filepath.Join(l.cfg.Dir, l.name+".log")
	for i := l.cfg.MaxFiles - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", base, i), fmt.Sprintf("%s.%d", base, i+1))
	}
	_ = os.Rename(base, base+".1")
}

// tail returns up to n of the most recent lines, oldest first.
func (l *programLog) tail(n int) []LogLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tailLocked(n)
}

func (l *programLog) tailLocked(n int) []LogLine {
	var lines []LogLine
	if l.full {
		lines = append(lines, l.ring[l.next:]...)
	}
	lines = append(lines, l.ring[:l.next]...)
	if n >= 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// follow returns the last n lines and a channel of the lines written after
// them; call stop to end it.
func (l *programLog) follow(n int) (recent []LogLine, lines <-chan LogLine, stop func()) {
	ch := make(chan LogLine, 256)
	l.mu.Lock()
	recent = l.tailLocked(n) // under the same lock, so no line falls between
	l.followers[ch] = struct{}{}
	l.mu.Unlock()
	return recent, ch, func() {
		l.mu.Lock()
		delete(l.followers, ch)
		l.mu.Unlock()
	}
}

func (l *programLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		l.file.Close()
		l.file = nil
	}
}
