package backup

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"filippo.io/age"
)

// countWriter counts what passes.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writePart writes one encrypted part: fill's bytes, gzip-compressed,
// age-encrypted to recipients, into dir/file, hashing the ciphertext.
func writePart(dir, name, file, format string, recipients []age.Recipient, fill func(w io.Writer) error) (Part, error) {
	path := filepath.Join(dir, file)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return Part{}, fmt.Errorf("part %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	out := &countWriter{w: io.MultiWriter(f, h)}
	enc, err := age.Encrypt(out, recipients...)
	if err != nil {
		return Part{}, fmt.Errorf("part %s: encrypt: %w", name, err)
	}
	gz, _ := gzip.NewWriterLevel(enc, gzip.BestSpeed)
	plain := &countWriter{w: gz}
	if err := fill(plain); err != nil {
		return Part{}, fmt.Errorf("part %s: %w", name, err)
	}
	if err := gz.Close(); err != nil {
		return Part{}, fmt.Errorf("part %s: compress: %w", name, err)
	}
	if err := enc.Close(); err != nil {
		return Part{}, fmt.Errorf("part %s: encrypt: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return Part{}, fmt.Errorf("part %s: %w", name, err)
	}
	return Part{Name: name, File: file, Format: format, Size: out.n, Plain: plain.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// tarDir writes root's tree (names relative to root) to w. Sockets and
// other special files are skipped; so is anything skip says.
func tarDir(w io.Writer, root string, skip func(rel string) bool) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		switch {
		case info.Mode().IsRegular(), info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		default:
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		// A file that grew since its header was written is cut to the
		// header's size; one that shrank fails the set, to be retried.
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("%s changed while being copied: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// openPart opens a part for reading: it checks nothing but decrypts and
// decompresses as it is read.
func openPart(path string, identities []age.Identity) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	dec, err := age.Decrypt(f, identities...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("decrypt %s: %w", filepath.Base(path), err)
	}
	gz, err := gzip.NewReader(dec)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("decompress %s: %w", filepath.Base(path), err)
	}
	return readCloser{gz, f}, nil
}

type readCloser struct {
	io.Reader
	f *os.File
}

func (r readCloser) Close() error { return r.f.Close() }

// fileDigest is the sha256 of a file, hex.
func fileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// untar extracts r into dir (which must exist), keeping modes and, when
// run as root, owners. Names that climb out of dir are refused.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	root := os.Geteuid() == 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(strings.TrimSuffix(hdr.Name, "/"))
		if name == "" || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) || filepath.Clean(name) != name {
			return fmt.Errorf("unsafe name %q in archive", hdr.Name)
		}
		path := filepath.Join(dir, name)
		mode := os.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, path); err != nil {
				return err
			}
			if root {
				_ = os.Lchown(path, hdr.Uid, hdr.Gid)
			}
			continue
		default:
			continue
		}
		if err := os.Chmod(path, mode); err != nil {
			return err
		}
		if root {
			if err := os.Lchown(path, hdr.Uid, hdr.Gid); err != nil && !errors.Is(err, syscall.EPERM) {
				return err
			}
		}
	}
}
