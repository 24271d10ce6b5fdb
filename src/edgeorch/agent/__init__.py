"""The edge agent: joins the control plane, runs its assignments through drivers, and keeps them
running when the control plane is out of reach."""
