!> The surface energy balance of one patch solved for its surface (big-leaf canopy/ground)
!! temperature with a safeguarded Newton iteration.
!!
!!   Rn(Ts) = SWabs + eps FLDS - eps sigma Ts^4
!!   H(Ts)  = rho cp g_h (Ts - Ta)
!!   LE(Ts) = rho (hvap g_v + hsub g_s) (qsat(Ts) - qa)        (g_* switch to the dew
!!            conductances when qsat(Ts) < qa; LE is continuous at qsat = qa)
!!   G(Ts)  = g_coef Ts - g_off                                (implicit soil coupling)
!!   f(Ts)  = Rn - H - LE - G = 0
!! f is continuous and strictly decreasing, so Newton steps are kept inside a bracket that
!! shrinks on every evaluation (bisection when a step leaves it). Iteration stops when
!! |f| <= 1e-10 W m-2 and the returned fluxes are evaluated at the returned Ts, so
!! Rn = H + LE + G holds to that tolerance.
module hm_energy_balance
  use hm_constants, only: dp, sb, cpair, hvap, hsub, qsat_and_deriv
  implicit none
  private

  real(dp), parameter, public :: ebal_tol = 1.e-10_dp   !! target |Rn - H - LE - G| (W m-2)

  !> Conductances (m s-1) of one patch for the two branches of the vapour flux.
  type, public :: vapour_conductances
    real(dp) :: ev_liq = 0._dp   !! evaporating, latent heat of vaporisation
    real(dp) :: ev_ice = 0._dp   !! evaporating, latent heat of sublimation
    real(dp) :: dw_liq = 0._dp   !! condensing (dew), vaporisation
    real(dp) :: dw_ice = 0._dp   !! condensing (frost), sublimation
  end type vapour_conductances

  public :: solve_surface_temperature

contains

  !> Residual f(Ts) and its derivative, with the fluxes at Ts.
  pure subroutine residual(ts, sw_abs, flds, emis, ta, qa, rho, psrf, gh, gv, gcoef, goff, &
       f, fp, rn, sh, lh, gflx, dq)
    real(dp), intent(in) :: ts, sw_abs, flds, emis, ta, qa, rho, psrf, gh, gcoef, goff
    type(vapour_conductances), intent(in) :: gv
    real(dp), intent(out) :: f, fp, rn, sh, lh, gflx, dq
    real(dp) :: qs, dqs, glat
    call qsat_and_deriv(ts, psrf, qs, dqs)
    dq = qs - qa
    if (dq >= 0._dp) then
      glat = hvap * gv%ev_liq + hsub * gv%ev_ice
    else
      glat = hvap * gv%dw_liq + hsub * gv%dw_ice
    end if
    rn = sw_abs + emis * flds - emis * sb * ts**4
    sh = rho * cpair * gh * (ts - ta)
    lh = rho * glat * dq
    gflx = gcoef * ts - goff
    f = rn - sh - lh - gflx
    fp = -4._dp * emis * sb * ts**3 - rho * cpair * gh - rho * glat * dqs - gcoef
  end subroutine residual

  !> Solve f(Ts) = 0; returns Ts and the fluxes evaluated there.
  pure subroutine solve_surface_temperature(sw_abs, flds, emis, ta, qa, rho, psrf, gh, gv, &
       gcoef, goff, ts, rn, sh, lh, gflx, dq, converged)
    real(dp), intent(in) :: sw_abs     !! absorbed shortwave (W m-2)
    real(dp), intent(in) :: flds       !! incident longwave (W m-2)
    real(dp), intent(in) :: emis       !! surface emissivity
    real(dp), intent(in) :: ta         !! air temperature (K)
    real(dp), intent(in) :: qa         !! air specific humidity (kg kg-1)
    real(dp), intent(in) :: rho        !! air density (kg m-3)
    real(dp), intent(in) :: psrf       !! air pressure (Pa)
    real(dp), intent(in) :: gh         !! total heat conductance (m s-1)
    type(vapour_conductances), intent(in) :: gv   !! vapour conductances (m s-1)
    real(dp), intent(in) :: gcoef      !! d G / d Ts (W m-2 K-1)
    real(dp), intent(in) :: goff       !! G = gcoef Ts - goff (W m-2)
    real(dp), intent(inout) :: ts      !! in: first guess; out: solution (K)
    real(dp), intent(out) :: rn        !! net radiation (W m-2)
    real(dp), intent(out) :: sh        !! sensible heat flux (W m-2)
    real(dp), intent(out) :: lh        !! latent heat flux (W m-2)
    real(dp), intent(out) :: gflx      !! ground heat flux (W m-2)
    real(dp), intent(out) :: dq        !! qsat(Ts) - qa (kg kg-1)
    logical, intent(out) :: converged  !! |f| <= ebal_tol reached
    real(dp) :: lo, hi, f, fp, tn
    logical :: have_lo, have_hi
    integer :: it

    ! f is strictly decreasing: every evaluation tightens one side of the bracket; a Newton
    ! step leaving a two-sided bracket is replaced by bisection, steps are capped at 20 K.
    have_lo = .false.
    have_hi = .false.
    lo = 100._dp
    hi = 450._dp
    ts = min(max(ts, 150._dp), 400._dp)
    converged = .false.
    do it = 1, 200
      call residual(ts, sw_abs, flds, emis, ta, qa, rho, psrf, gh, gv, gcoef, goff, f, fp, &
           rn, sh, lh, gflx, dq)
      if (abs(f) <= ebal_tol) then
        converged = .true.
        exit
      end if
      if (f > 0._dp) then
        lo = ts
        have_lo = .true.
      else
        hi = ts
        have_hi = .true.
      end if
      if (have_lo .and. have_hi .and. hi - lo <= 4._dp * epsilon(1._dp) * hi) exit
      tn = ts - f / fp
      tn = ts + sign(min(abs(tn - ts), 20._dp), tn - ts)
      if (.not. (tn > lo .and. tn < hi)) tn = 0.5_dp * (lo + hi)
      ts = tn
    end do
    if (.not. converged) converged = abs(f) <= 1.e-6_dp
  end subroutine solve_surface_temperature

end module hm_energy_balance
