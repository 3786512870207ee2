// Command modproxy builds a file-based Go module proxy (GOPROXY=file://DIR)
// from this repository's git history, so that CI can prove that a user's
// `go get` of a nested module resolves without any replace directive.
//
//	modproxy -repo ROOT -out DIR MODDIR...   zip each MODDIR at HEAD, as a
//	                                         pseudo-version of HEAD, and every
//	                                         module of the repository it
//	                                         requires (at the required version),
//	                                         recursively; print "path version"
//	                                         of each MODDIR
//	modproxy -repo ROOT pseudo COMMIT        print the pseudo-version of the
//	                                         core module at COMMIT
//
// A requirement on a module of the repository at a pseudo-version is zipped
// at that pseudo-version's commit; at a release version, at the tag
// "<dir>/<version>" ("<version>" for the core). The zips are made with
// golang.org/x/mod/zip.CreateFromVCS, as the public proxy would make them.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/zip"
)

func main() {
	repo := flag.String("repo", ".", "root of the git repository")
	out := flag.String("out", "", "directory of the file proxy to write")
	flag.Parse()
	if err := run(*repo, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(repo, out string, args []string) error {
	root, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	g := &gen{root: root, out: out, done: map[module.Version]bool{}}
	if g.corePath, err = modulePath(root, "HEAD", ""); err != nil {
		return err
	}
	// CreateFromVCS wants a work tree whose .git is a directory; a linked
	// work tree (git worktree) has a .git file. A shared clone without
	// checkout sees every object of the repository, HEAD's included.
	tmp, err := os.MkdirTemp("", "modproxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	g.vcsRoot = filepath.Join(tmp, "repo")
	if _, err := g.git("clone", "--quiet", "--shared", "--no-checkout", root, g.vcsRoot); err != nil {
		return err
	}
	if len(args) == 2 && args[0] == "pseudo" {
		v, err := g.pseudoVersion(args[1], "")
		if err != nil {
			return err
		}
		fmt.Println(v)
		return nil
	}
	if out == "" || len(args) == 0 {
		return errors.New("usage: modproxy -repo ROOT -out DIR MODDIR... | modproxy -repo ROOT pseudo COMMIT")
	}
	for _, dir := range args {
		dir = strings.Trim(path.Clean(filepath.ToSlash(dir)), "/")
		if dir == "." {
			dir = ""
		}
		p, err := modulePath(root, "HEAD", dir)
		if err != nil {
			return err
		}
		v, err := g.pseudoVersion("HEAD", dir)
		if err != nil {
			return err
		}
		m := module.Version{Path: p, Version: v}
		if err := g.add(m, dir, "HEAD"); err != nil {
			return err
		}
		info, _ := json.Marshal(map[string]string{"Version": v})
		// "@latest" lets `go get <path>` without a version resolve, as for a
		// module that has no release tag yet.
		if err := os.WriteFile(filepath.Join(g.modDir(p), "..", "@latest"), append(info, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Println(p, v)
	}
	return nil
}

type gen struct {
	root, out, corePath string
	vcsRoot             string // a shared clone of root, for CreateFromVCS
	done                map[module.Version]bool
}

// git runs git in the repository and returns its standard output.
func (g *gen) git(args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", g.root}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return b, nil
}

func modulePath(root, rev, dir string) (string, error) {
	g := &gen{root: root}
	b, err := g.git("show", rev+":"+path.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	p := modfile.ModulePath(b)
	if p == "" {
		return "", fmt.Errorf("%s:%s/go.mod has no module line", rev, dir)
	}
	return p, nil
}

// pseudoVersion returns the pseudo-version of the module in dir at rev: based
// on the newest release tag of that module reachable from rev, if any.
func (g *gen) pseudoVersion(rev, dir string) (string, error) {
	b, err := g.git("show", "-s", "--format=%H %ct", rev)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	secs, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return "", err
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	older := ""
	if b, err := g.git("tag", "--merged", rev, "--list", prefix+"v*"); err == nil {
		for t := range strings.FieldsSeq(string(b)) {
			v := strings.TrimPrefix(t, prefix)
			if semver.IsValid(v) && semver.Prerelease(v) == "" && semver.Major(v) == "v0" && semver.Compare(v, older) > 0 {
				older = v
			}
		}
	}
	return module.PseudoVersion("v0", older, time.Unix(secs, 0).UTC(), f[0][:12]), nil
}

func (g *gen) modDir(p string) string {
	enc, err := module.EscapePath(p)
	if err != nil {
		panic(err) // a module path read from a go.mod that go accepted
	}
	return filepath.Join(g.out, filepath.FromSlash(enc), "@v")
}

// add writes m's .info, .mod and .zip (the module in dir at rev) and then
// every module of the repository that m requires.
func (g *gen) add(m module.Version, dir, rev string) error {
	if g.done[m] {
		return nil
	}
	g.done[m] = true
	commit, err := g.git("rev-parse", rev+"^{commit}")
	if err != nil {
		return err
	}
	rev = strings.TrimSpace(string(commit))
	gomod, err := g.git("show", rev+":"+path.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	ct, err := g.git("show", "-s", "--format=%ct", rev)
	if err != nil {
		return err
	}
	secs, _ := strconv.ParseInt(strings.TrimSpace(string(ct)), 10, 64)
	d := g.modDir(m.Path)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	base := filepath.Join(d, m.Version)
	info, _ := json.Marshal(map[string]any{"Version": m.Version, "Time": time.Unix(secs, 0).UTC()})
	if err := os.WriteFile(base+".info", info, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".mod", gomod, 0o644); err != nil {
		return err
	}
	zf, err := os.Create(base + ".zip")
	if err != nil {
		return err
	}
	err = zip.CreateFromVCS(zf, m, g.vcsRoot, rev, dir)
	if cerr := zf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("zip %s@%s: %w", m.Path, m.Version, err)
	}
	// "list" names the release versions only; it exists (empty) for a
	// module with none, so that the go command does not ask the next proxy.
	lf, err := os.OpenFile(filepath.Join(d, "list"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if !module.IsPseudoVersion(m.Version) {
		_, err = fmt.Fprintln(lf, m.Version)
	}
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "modproxy: %s@%s from %s:%s\n", m.Path, m.Version, rev[:12], "/"+dir)

	mf, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return err
	}
	for _, req := range mf.Require {
		rdir, ok := g.dirOf(req.Mod.Path)
		if !ok {
			continue
		}
		rrev := req.Mod.Version
		if module.IsPseudoVersion(rrev) {
			if rrev, err = module.PseudoVersionRev(rrev); err != nil {
				return err
			}
		} else if rdir != "" {
			rrev = rdir + "/" + rrev
		}
		if err := g.add(req.Mod, rdir, rrev); err != nil {
			return fmt.Errorf("%s requires %s@%s: %w", m.Path, req.Mod.Path, req.Mod.Version, err)
		}
	}
	return nil
}

// dirOf returns the directory of the repository's module p.
func (g *gen) dirOf(p string) (string, bool) {
	if p == g.corePath {
		return "", true
	}
	rest, ok := strings.CutPrefix(p, g.corePath+"/")
	return rest, ok
}
