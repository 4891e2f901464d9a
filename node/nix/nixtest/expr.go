package nixtest

import "fmt"

// TwoStep is the Nix expression of the tests: no nixpkgs, a busybox added with builtins.path,
// "greeting" writes files (one executable, a symlink, its whole environment sorted, so any
// difference between our sandbox's environment and Nix's shows in the output), and "hello"
// depends on it: its script refers to greeting's output and to busybox, so its references are
// both. It evaluates to [ hello greeting ].
func TwoStep(busyboxDir, salt string) string {
	return fmt.Sprintf(`
let
  bb = builtins.path { path = %q; name = "busybox"; };
  sh = "${bb}/bin/sh";
  greeting = builtins.derivation {
    name = "greeting"; system = "x86_64-linux"; builder = sh;
    salt = %q;
    passAsFile = [ "text" ];
    text = "hello from nix\n";
    args = [ "-c" ''
      set -e
      bb=${bb}/bin/busybox
      $bb mkdir -p $out/bin $out/share
      $bb cp $textPath $out/share/greeting
      $bb env | $bb sort > $out/share/env
      $bb id > $out/share/id
      $bb pwd > $out/share/pwd
      $bb ln -s share/greeting $out/link
      printf '#!%%s\n$bb cat %%s/share/greeting\n' ${sh} $out > $out/bin/greet
      $bb chmod +x $out/bin/greet
    '' ];
  };
  hello = builtins.derivation {
    name = "hello"; system = "x86_64-linux"; builder = sh;
    args = [ "-c" ''
      set -e
      bb=${bb}/bin/busybox
      $bb mkdir -p $out/bin
      printf '#!%%s\nexec %%s/bin/greet\n' ${sh} ${greeting} > $out/bin/hello
      $bb chmod +x $out/bin/hello
      $bb ls /nix/store | $bb sed 's/^[^-]*-//' | $bb sort > $out/store-names
    '' ];
  };
in [ hello greeting ]
`, busyboxDir, salt)
}
