// Waveform seeking and a play cursor. Plain script, no build step; the page works without it.
document.addEventListener("DOMContentLoaded", () => {
  for (const figure of document.querySelectorAll("figure.wave")) {
    const audio = document.getElementById(figure.dataset.audio);
    if (!audio) continue;
    const svg = figure.querySelector("svg");
    const cursor = figure.querySelector(".cursor");
    const width = svg.viewBox.baseVal.width;
    const seek = (fraction) => {
      if (Number.isFinite(audio.duration)) audio.currentTime = fraction * audio.duration;
    };
    svg.addEventListener("click", (event) => {
      const box = svg.getBoundingClientRect();
      seek((event.clientX - box.left) / box.width);
    });
    figure.addEventListener("keydown", (event) => {
      if (event.key === "ArrowRight") audio.currentTime += 5;
      else if (event.key === "ArrowLeft") audio.currentTime = Math.max(0, audio.currentTime - 5);
      else if (event.key === " " || event.key === "Enter") audio.paused ? audio.play() : audio.pause();
      else return;
      event.preventDefault();
    });
    audio.addEventListener("timeupdate", () => {
      if (!Number.isFinite(audio.duration) || audio.duration === 0) return;
      const x = (audio.currentTime / audio.duration) * width;
      cursor.setAttribute("x1", x);
      cursor.setAttribute("x2", x);
    });
  }
});
