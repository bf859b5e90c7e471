!> Leaf photosynthesis and stomatal conductance scaled to the canopy, with a water-stress
!! limit through the critical water potential psicr.
!!
!! Assimilation: Collatz et al. (1991) for C3 and Collatz et al. (1992) for C4 leaves as in
!! SiB2 (Sellers et al. 1996): Rubisco-limited w_c (vmax0 with Q10 = 2.1 and high/low
!! temperature inhibition), light-limited w_e = effcon * APAR, export-limited w_s, co-limited
!! by two quadratics (theta = 0.98/0.95 for C3, 0.80/0.95 for C4). Stomata: Ball, Woodrow &
!! Berry (1987), g_s = gradm A_n h_s p / c_s + binter, solved with A_n by damped fixed-point
!! iteration on c_i (fixed count: deterministic). Canopy: top-leaf values times
!! Pi = (1 - e^{-k L}) / k (Sellers et al. 1992 big-leaf scaling with light-following
!! Rubisco). Water stress: beta_i = (psi_i - psicr) / (psi_open - psicr) per layer, clipped
!! to [0, 1], weighted by root fraction (CLM4.5 btran with psicr as the closing potential;
!! the leaf potential at zero flow equals the soil potential); beta scales vmax0 and binter.
module hm_photosynthesis
  use hm_constants, only: dp, nlevsoi, rgas, co2_ppm, o2_frac, psi_open_kpa, grav, denh2o, &
       esat_and_deriv
  implicit none
  private

  real(dp), parameter :: par_per_w = 4.6e-6_dp   !! mol photons per J of PAR (McCree 1972)
  integer, parameter :: n_ci_iter = 12            !! fixed-point iterations on c_i

  public :: water_stress, canopy_photosynthesis

contains

  !> Root-zone water-stress factor btran and the per-layer uptake weights.
  pure subroutine water_stress(psi_m, rootfr, psicr, btran, wt)
    real(dp), intent(in) :: psi_m(nlevsoi)    !! soil matric potential per layer (m)
    real(dp), intent(in) :: rootfr(nlevsoi)   !! root fraction per layer
    real(dp), intent(in) :: psicr             !! critical water potential (kPa)
    real(dp), intent(out) :: btran            !! stress factor, 1 = unstressed, 0 = closed
    real(dp), intent(out) :: wt(nlevsoi)      !! share of transpiration drawn from each layer
    real(dp) :: psi_kpa, beta
    integer :: i
    btran = 0._dp
    do i = 1, nlevsoi
      psi_kpa = psi_m(i) * denh2o * grav * 1.e-3_dp
      beta = (psi_kpa - psicr) / (psi_open_kpa - psicr)
      beta = min(max(beta, 0._dp), 1._dp)
      wt(i) = rootfr(i) * beta
      btran = btran + wt(i)
    end do
    if (btran > 0._dp) then
      wt = wt / btran
    else
      wt = rootfr
    end if
  end subroutine water_stress

  !> Smaller root of theta x^2 - (a + b) x + a b = 0 (smooth minimum of a and b).
  pure function colimit(a, b, theta) result(x)
    real(dp), intent(in) :: a, b, theta
    real(dp) :: x, s
    s = a + b
    x = (s - sqrt(max(s * s - 4._dp * theta * a * b, 0._dp))) / (2._dp * theta)
  end function colimit

  !> Canopy stomatal conductance and gross assimilation of the vegetated part of a patch.
  pure subroutine canopy_photosynthesis(is_c4, vmax0, effcon, gradm, binter, btran, apar, kpar, &
       lai_loc, tleaf, psrf, ea, gbw_leaf, gs_canopy, gpp, an_canopy)
    logical, intent(in) :: is_c4           !! C4 pathway
    real(dp), intent(in) :: vmax0          !! Rubisco capacity at 25 C (mol m-2 s-1)
    real(dp), intent(in) :: effcon         !! quantum efficiency (mol mol-1)
    real(dp), intent(in) :: gradm          !! Ball-Berry slope
    real(dp), intent(in) :: binter         !! Ball-Berry intercept (mol m-2 s-1)
    real(dp), intent(in) :: btran          !! water-stress factor (0..1)
    real(dp), intent(in) :: apar           !! PAR absorbed by leaves (W m-2 of vegetated area)
    real(dp), intent(in) :: kpar           !! PAR extinction coefficient
    real(dp), intent(in) :: lai_loc        !! leaf area per vegetated area (m2 m-2)
    real(dp), intent(in) :: tleaf          !! leaf temperature (K)
    real(dp), intent(in) :: psrf           !! air pressure (Pa)
    real(dp), intent(in) :: ea             !! air vapour pressure (Pa)
    real(dp), intent(in) :: gbw_leaf       !! leaf boundary-layer conductance for vapour (m s-1)
    real(dp), intent(out) :: gs_canopy     !! canopy stomatal conductance (m s-1 of vegetated area)
    real(dp), intent(out) :: gpp           !! gross assimilation (mol CO2 m-2 s-1 of vegetated area)
    real(dp), intent(out) :: an_canopy     !! net assimilation (mol CO2 m-2 s-1 of vegetated area)
    real(dp) :: pi_fac, apar_top, q, tinhib, vm, kc, ko, tau, gam, rd, ca, o2, ci, cs, hs, es
    real(dp) :: ei, dei, gb, gs, gs_min, wc, we, ws, wp, jj, an, ci_new, molconv, ea_eff
    integer :: it

    gs_canopy = 0._dp
    gpp = 0._dp
    an_canopy = 0._dp
    if (lai_loc <= 0._dp) return
    pi_fac = (1._dp - exp(-kpar * lai_loc)) / kpar
    apar_top = apar * par_per_w / pi_fac
    molconv = psrf / (rgas * tleaf)                 ! m s-1 -> mol m-2 s-1
    q = (tleaf - 298.15_dp) / 10._dp
    if (is_c4) then
      tinhib = (1._dp + exp(0.3_dp * (tleaf - 313.15_dp))) * (1._dp + exp(0.2_dp * (288.15_dp - tleaf)))
    else
      tinhib = (1._dp + exp(0.3_dp * (tleaf - 313.15_dp))) * (1._dp + exp(0.2_dp * (283.15_dp - tleaf)))
    end if
    vm = vmax0 * 2.1_dp**q / tinhib * btran
    ca = co2_ppm * 1.e-6_dp * psrf
    o2 = o2_frac * psrf
    kc = 30._dp * 2.1_dp**q
    ko = 30000._dp * 1.2_dp**q
    tau = 2600._dp * 0.57_dp**q
    gam = 0.5_dp * o2 / tau
    if (is_c4) then
      rd = 0.025_dp * vm
      gam = 0._dp
    else
      rd = 0.015_dp * vm
    end if
    call esat_and_deriv(tleaf, ei, dei)
    ea_eff = min(max(ea, 1._dp), ei)
    gb = max(gbw_leaf, 1.e-4_dp) * molconv
    gs_min = max(binter * btran, 1.e-6_dp)
    gs = gs_min
    if (is_c4) then
      ci = 0.4_dp * ca
    else
      ci = 0.7_dp * ca
    end if
    an = -rd
    do it = 1, n_ci_iter
      if (is_c4) then
        wc = vm
        we = effcon * apar_top
        ws = 2.e4_dp * vm * ci / psrf
        wp = colimit(wc, we, 0.80_dp)
      else
        wc = vm * max(ci - gam, 0._dp) / (ci + kc * (1._dp + o2 / ko))
        we = effcon * apar_top * max(ci - gam, 0._dp) / (ci + 2._dp * gam)
        ws = 0.5_dp * vm
        wp = colimit(wc, we, 0.98_dp)
      end if
      jj = colimit(wp, ws, 0.95_dp)
      an = jj - rd
      cs = max(ca - 1.4_dp * an * psrf / gb, 0.1_dp * ca)
      es = (gs * ei + gb * ea_eff) / (gs + gb)
      hs = min(max(es / ei, 0.05_dp), 1._dp)
      gs = gradm * max(an, 0._dp) * hs * psrf / cs + gs_min
      ci_new = cs - 1.6_dp * an * psrf / gs
      ci_new = min(max(ci_new, 0.01_dp * ca), ca)
      ci = 0.5_dp * (ci + ci_new)
    end do
    gs_canopy = gs * pi_fac / molconv
    gpp = max(jj, 0._dp) * pi_fac
    an_canopy = an * pi_fac
  end subroutine canopy_photosynthesis

end module hm_photosynthesis
