// MathJax 3 configuration for pymdownx.arithmatex (generic mode): typeset only the spans and
// blocks arithmatex marks, with \( \) inline and \[ \] display delimiters. MathJax itself is
// served from assets/mathjax/ (see docs/hooks/mathjax.py).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};
