// Render math with the vendored KaTeX: \( \) and \[ \] from Markdown pages (pymdownx.arithmatex),
// $ and $$ from notebook Markdown cells. Code, outputs and scripts are left alone.
(function () {
  function render() {
    var root = document.querySelector(".md-content");
    if (!root || typeof renderMathInElement !== "function") return;
    renderMathInElement(root, {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "\\[", right: "\\]", display: true },
        { left: "\\(", right: "\\)", display: false },
        { left: "$", right: "$", display: false },
      ],
      ignoredClasses: ["highlight", "highlight-ipynb", "jp-OutputArea", "output_area"],
      throwOnError: false,
    });
    // A formula wider than the column (on a phone) scrolls in its own box, which the keyboard
    // can reach too.
    root.querySelectorAll(".katex-display").forEach(function (box) {
      box.setAttribute("tabindex", "0");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
