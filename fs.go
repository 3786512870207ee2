package revoke

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fileSystem is the little of the operating system the durability layer uses.
// The engine uses osFS; tests substitute one that fails writes, fsyncs and
// renames on demand, to prove that no failure is ever acknowledged.
type fileSystem interface {
	// MkdirAll creates dir and its parents if they do not exist, and
	// returns the directories it created, deepest first.
	MkdirAll(dir string) (created []string, err error)
	// OpenFile opens name as os.OpenFile does.
	OpenFile(name string, flag int, perm fs.FileMode) (file, error)
	// ReadDir returns the names of all the entries of dir.
	ReadDir(dir string) ([]string, error)
	// Stat returns the metadata of name, following symbolic links.
	Stat(name string) (fs.FileInfo, error)
	// Rename renames oldpath to newpath, replacing newpath atomically.
	Rename(oldpath, newpath string) error
	// Remove removes the file name.
	Remove(name string) error
	// SyncDir fsyncs the directory dir, making renames, creations and
	// removals in it durable.
	SyncDir(dir string) error
	// Lock takes the exclusive lock of dir for one engine; closing the
	// result releases it.
	Lock(dir string) (io.Closer, error)
}

// lockName is the lock file of a directory.
const lockName = "LOCK"

// file is an open file of a fileSystem.
type file interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync commits the file's contents to stable storage (fsync).
	Sync() error
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Stat returns the file's metadata (its size, above all).
	Stat() (fs.FileInfo, error)
}

// osFS is the fileSystem of the operating system.
type osFS struct{}

func (osFS) MkdirAll(dir string) ([]string, error) {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return created, nil
}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *os.File must not become a non-nil file
	}
	return f, nil
}

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	// Every entry, not only regular files: an entry named like a journal
	// that is a directory or a symlink must be seen (and refused if it
	// cannot be read as one), never overlooked and then created over.
	names := make([]string, 0, len(entries))
	for _, de := range entries {
		names = append(names, de.Name())
	}
	return names, nil
}

func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Lock(dir string) (io.Closer, error) { return lockDir(dir) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
