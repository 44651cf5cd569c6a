// On a phone, a plot is scaled to the column's width. A tap shows it at its own size (the PNG
// has twice as many pixels as that) inside its output box, which scrolls sideways; another tap
// scales it back.
(function () {
  document.addEventListener("click", function (event) {
    var img = event.target;
    if (!(img instanceof HTMLImageElement)) return;
    var box = img.closest(".jupyter-wrapper .jp-RenderedImage");
    if (!box || !window.matchMedia("(max-width: 44.9375em)").matches) return;
    var zoomed = box.classList.toggle("l6-zoomed");
    var width = img.getAttribute("width") || Math.round(img.naturalWidth / 2);
    img.style.width = zoomed ? width + "px" : "";
  });
})();
