"""The applications: the main job, deploying a run, the board loop, the demo and the analysis.

They sit above both the library (smile_jax/) and the compiler (compile/) and glue them together;
experiments/ holds their thin absl launchers.
"""
